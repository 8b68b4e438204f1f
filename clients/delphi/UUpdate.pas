{
  UUpdate: SAAU's TUpdateVersion, backed by Updraft.

  A SAAU app keeps its update routine (TFMain.Atualizar) as it is and changes only the unit it
  uses: this UUpdate.pas replaces the old one. Each call runs the `updraft` command with `--json`
  and reads the one JSON document it prints (see the README, "Coming from SAAU or
  python-autoupdate"):

    HasUpdate           updraft check --saau UrlPath --app <exe name> --dir <exe folder>
    HitVersion          the newer version failed within the back-off window (2 hours)
    Download            updraft update ... --prepare-only: downloads, verifies and stages the
                        package inside <exe folder>\.updraft, without touching the app's files
    PreparaAtualizacao  writes ScriptFileName (a .bat on Windows, a shell script elsewhere)
    ScriptFileName      the script the app starts before it closes; it runs
                        `updraft apply-prepared --restart`: Updraft's helper waits for the app to
                        exit, swaps the files all-or-nothing, starts the app again, and puts the
                        old files back if the new version does not start (it confirms itself by
                        its next HasUpdate within 60 s)
    putVersion          kept for the routine: Updraft records the attempt itself (at Download)
                        and its failure, which is what HitVersion reports for 2 hours

  The app's name is its executable's name without extension, its folder that of ParamStr(0), as
  in SAAU. `updraft` is looked for next to the executable (updraft.exe, updraft.cmd, updraft),
  then on the PATH; the UPDRAFT_EXE environment variable or the UpdraftExe property name it
  explicitly. LastErrorCode / LastErrorMessage hold the CLI's stable error code and message of
  the last failed call.

  Compilers: Delphi XE10 (Windows), and Free Pascal in Delphi mode (`fpc -Mdelphi`, any
  platform). For Delphi 5 and 7, the UNICODE conditionals below already pick the ANSI branches;
  what those versions also need: `GetEnvironmentVariable` (SysUtils, Delphi 6+) is declared in
  Windows.pas as a function with a buffer in Delphi 5 (wrap it), `IncludeTrailingPathDelimiter` /
  `ExcludeTrailingPathDelimiter` are `IncludeTrailingBackslash` / `ExcludeTrailingBackslash` in
  Delphi 5, and `UTF8Decode` replaces `UTF8ToString` (Delphi 2009+). No JSON library is used
  (System.JSON is XE+), so nothing else changes.
}
unit UUpdate;

{$IFDEF FPC}
  {$MODE DELPHI}
  {$H+}
{$ENDIF}

interface

uses
  {$IFDEF MSWINDOWS}Windows,{$ELSE}BaseUnix, UnixType,{$ENDIF}
  SysUtils, Classes;

type
  { SAAU's update client, driving Updraft. }
  TUpdateVersion = class(TComponent)
  private
    FUrlPath: string;
    FAppName: string;
    FAppDir: string;
    FUpdraftExe: string;
    FVersao: string;
    FAppVersao: string;
    FHit: Boolean;
    FDownloaded: Boolean;
    FScriptFileName: string;
    FLastErrorCode: string;
    FLastErrorMessage: string;
    FFields: TStringList;
    function FindUpdraft: string;
    function RunUpdraft(Args: TStringList; out ExitStatus: Integer): Boolean;
    function SourceArgs(const Verb: string): TStringList;
    function ScriptText: string;
  public
    constructor Create(AOwner: TComponent); override;
    destructor Destroy; override;
    { True when the repository has a newer version than the installed one (also when that
      version is held back: then HitVersion is True). }
    function HasUpdate: Boolean;
    { True when the newer version failed within the last 2 hours: do not try it now. }
    function HitVersion: Boolean;
    { Downloads, verifies and stages the newer version; the app's files are untouched. }
    function Download: Boolean;
    { Writes ScriptFileName, which hands the staged update to Updraft's helper. }
    function PreparaAtualizacao: Boolean;
    { SAAU recorded the attempt here; Updraft records it at Download (see the unit's comment). }
    procedure putVersion;
    { The repository's base URL (the folder holding <app>/versao.txt). }
    property UrlPath: string read FUrlPath write FUrlPath;
    { The newest published version (after HasUpdate). }
    property Versao: string read FVersao;
    { The installed version (after HasUpdate). }
    property AppVersao: string read FAppVersao;
    { The script to start before the app closes (after PreparaAtualizacao). }
    property ScriptFileName: string read FScriptFileName;
    { The app's name in the repository; default: the executable's name without extension. }
    property AppName: string read FAppName write FAppName;
    { The app's folder; default: the executable's folder. }
    property AppDir: string read FAppDir write FAppDir;
    { The updraft executable; default: UPDRAFT_EXE, else next to the app, else on the PATH. }
    property UpdraftExe: string read FUpdraftExe write FUpdraftExe;
    { Stable error code of the last failure (the README's error table), '' after a success. }
    property LastErrorCode: string read FLastErrorCode;
    { Message of the last failure. }
    property LastErrorMessage: string read FLastErrorMessage;
  end;

{ Reads a JSON document into Fields as `path=value` lines (`error.code=HTTP_STATUS`,
  `skipped.version=10.0.2.0`, `files.0=...`); strings unescaped, other values as written.
  False when the text is not one JSON value. }
function ParseJsonFields(const Text: string; Fields: TStrings): Boolean;

implementation

const
  UPDATE_AVAILABLE = 10; // exit status of `updraft check` when a newer version exists

function ParseJsonFields(const Text: string; Fields: TStrings): Boolean;
var
  P: Integer;

  procedure Fail;
  begin
    raise EConvertError.Create('invalid JSON at ' + IntToStr(P));
  end;

  procedure SkipWhite;
  begin
    while (P <= Length(Text)) and (Text[P] <= ' ') do Inc(P);
  end;

  function HexValue(const Hex: string): Integer;
  begin
    Result := StrToInt('$' + Hex);
  end;

  function CodePointText(Code: Integer): string;
  begin
    {$IFDEF UNICODE}
    Result := Char(Code);
    {$ELSE}
    // ANSI strings hold UTF-8 here (Free Pascal's default): encode the code point.
    if Code < $80 then Result := Chr(Code)
    else if Code < $800 then Result := Chr($C0 or (Code shr 6)) + Chr($80 or (Code and $3F))
    else Result := Chr($E0 or (Code shr 12)) + Chr($80 or ((Code shr 6) and $3F)) + Chr($80 or (Code and $3F));
    {$ENDIF}
  end;

  function ReadString: string;
  begin
    Result := '';
    Inc(P); // the opening quote
    while True do begin
      if P > Length(Text) then Fail;
      case Text[P] of
        '"': begin Inc(P); Exit; end;
        '\': begin
          Inc(P);
          if P > Length(Text) then Fail;
          case Text[P] of
            'n': Result := Result + #10;
            'r': Result := Result + #13;
            't': Result := Result + #9;
            'b': Result := Result + #8;
            'f': Result := Result + #12;
            'u': begin
              if P + 4 > Length(Text) then Fail;
              Result := Result + CodePointText(HexValue(Copy(Text, P + 1, 4)));
              Inc(P, 4);
            end;
          else
            Result := Result + Text[P]; // \" \\ \/
          end;
          Inc(P);
        end;
      else
        begin
          Result := Result + Text[P];
          Inc(P);
        end;
      end;
    end;
  end;

  function Join(const Path, Key: string): string;
  begin
    if Path = '' then Result := Key else Result := Path + '.' + Key;
  end;

  procedure ReadValue(const Path: string);
  var
    Key: string;
    Index, Start: Integer;
  begin
    SkipWhite;
    if P > Length(Text) then Fail;
    case Text[P] of
      '{': begin
        Inc(P);
        SkipWhite;
        if (P <= Length(Text)) and (Text[P] = '}') then begin Inc(P); Exit; end;
        while True do begin
          SkipWhite;
          if (P > Length(Text)) or (Text[P] <> '"') then Fail;
          Key := ReadString;
          SkipWhite;
          if (P > Length(Text)) or (Text[P] <> ':') then Fail;
          Inc(P);
          ReadValue(Join(Path, Key));
          SkipWhite;
          if P > Length(Text) then Fail;
          if Text[P] = '}' then begin Inc(P); Exit; end;
          if Text[P] <> ',' then Fail;
          Inc(P);
        end;
      end;
      '[': begin
        Inc(P);
        SkipWhite;
        if (P <= Length(Text)) and (Text[P] = ']') then begin Inc(P); Exit; end;
        Index := 0;
        while True do begin
          ReadValue(Join(Path, IntToStr(Index)));
          Inc(Index);
          SkipWhite;
          if P > Length(Text) then Fail;
          if Text[P] = ']' then begin Inc(P); Exit; end;
          if Text[P] <> ',' then Fail;
          Inc(P);
        end;
      end;
      '"': Fields.Add(Path + '=' + ReadString);
    else
      begin
        Start := P;
        while (P <= Length(Text)) and (Text[P] > ' ') and (Text[P] <> ',') and (Text[P] <> '}')
          and (Text[P] <> ']') do Inc(P);
        if P = Start then Fail;
        Fields.Add(Path + '=' + Copy(Text, Start, P - Start));
      end;
    end;
  end;

begin
  Fields.Clear;
  P := 1;
  try
    ReadValue('');
    SkipWhite;
    Result := P > Length(Text);
  except
    on EConvertError do Result := False;
  end;
end;

{ A shell word: 'text' with every ' written as '\''. }
function ShellQuote(const S: string): string;
begin
  Result := '''' + StringReplace(S, '''', '''\''''', [rfReplaceAll]) + '''';
end;

{ A word of a .bat line: "text", with % doubled (cmd expands it even inside quotes). }
function BatchQuote(const S: string): string;
begin
  Result := '"' + StringReplace(S, '%', '%%', [rfReplaceAll]) + '"';
end;

{$IFDEF MSWINDOWS}
{ Runs Exe with Args in Dir; Output is what it wrote to stdout (stderr stays the app's). }
function RunCaptured(const Exe: string; const Args: TStrings; const Dir: string;
  out Output: string; out ExitStatus: Integer): Boolean;
var
  Security: TSecurityAttributes;
  ReadPipe, WritePipe: THandle;
  Startup: TStartupInfo;
  Info: TProcessInformation;
  Line, Arg: string;
  Buffer: array[0..4095] of AnsiChar;
  Got: DWORD;
  Raw, Chunk: AnsiString;
  Code: DWORD;
  I: Integer;
begin
  Output := '';
  ExitStatus := -1;
  Result := False;
  Line := '"' + Exe + '"';
  // updraft.cmd (npm's launcher) runs through cmd.exe.
  if SameText(ExtractFileExt(Exe), '.cmd') or SameText(ExtractFileExt(Exe), '.bat') then
    Line := 'cmd.exe /d /s /c "' + Line;
  for I := 0 to Args.Count - 1 do begin
    // The C runtime's rules: \" is a quote, and a backslash before the closing quote is doubled.
    Arg := StringReplace(Args[I], '"', '\"', [rfReplaceAll]);
    if (Arg <> '') and (Arg[Length(Arg)] = '\') then Arg := Arg + '\';
    Line := Line + ' "' + Arg + '"';
  end;
  if Copy(Line, 1, 7) = 'cmd.exe' then Line := Line + '"';
  FillChar(Security, SizeOf(Security), 0);
  Security.nLength := SizeOf(Security);
  Security.bInheritHandle := True;
  if not CreatePipe(ReadPipe, WritePipe, @Security, 0) then Exit;
  try
    SetHandleInformation(ReadPipe, HANDLE_FLAG_INHERIT, 0);
    FillChar(Startup, SizeOf(Startup), 0);
    Startup.cb := SizeOf(Startup);
    Startup.dwFlags := STARTF_USESTDHANDLES or STARTF_USESHOWWINDOW;
    Startup.wShowWindow := SW_HIDE;
    Startup.hStdOutput := WritePipe;
    Startup.hStdError := GetStdHandle(STD_ERROR_HANDLE);
    Startup.hStdInput := GetStdHandle(STD_INPUT_HANDLE);
    UniqueString(Line);
    if not CreateProcess(nil, PChar(Line), nil, nil, True, CREATE_NO_WINDOW, nil, PChar(Dir), Startup, Info) then begin
      Output := SysErrorMessage(GetLastError);
      Exit;
    end;
    CloseHandle(WritePipe);
    WritePipe := 0;
    Raw := '';
    while ReadFile(ReadPipe, Buffer, SizeOf(Buffer), Got, nil) and (Got > 0) do
    begin
      SetString(Chunk, PAnsiChar(@Buffer[0]), Got);
      Raw := Raw + Chunk;
    end;
    WaitForSingleObject(Info.hProcess, INFINITE);
    GetExitCodeProcess(Info.hProcess, Code);
    CloseHandle(Info.hThread);
    CloseHandle(Info.hProcess);
    {$IFDEF UNICODE}Output := UTF8ToString(Raw);{$ELSE}Output := Utf8ToAnsi(Raw);{$ENDIF}
    ExitStatus := Integer(Code);
    Result := True;
  finally
    if WritePipe <> 0 then CloseHandle(WritePipe);
    CloseHandle(ReadPipe);
  end;
end;
{$ELSE}
{ Runs Exe with Args in Dir; Output is what it wrote to stdout (stderr stays the app's). }
function RunCaptured(const Exe: string; const Args: TStrings; const Dir: string;
  out Output: string; out ExitStatus: Integer): Boolean;
const
  EXEC_FAILED = 127;
var
  Fds: TFilDes;
  Pid: TPid;
  Argv: array of PChar;
  I: Integer;
  Buffer: array[0..4095] of Char;
  Got: TSsize;
  Status: cint;
  Chunk: string;
begin
  Result := False;
  Output := '';
  ExitStatus := -1;
  if FpPipe(Fds) <> 0 then Exit;
  SetLength(Argv, Args.Count + 2);
  Argv[0] := PChar(Exe);
  for I := 0 to Args.Count - 1 do Argv[I + 1] := PChar(Args[I]);
  Argv[Args.Count + 1] := nil;
  Pid := FpFork;
  if Pid = 0 then begin
    FpClose(Fds[0]);
    FpDup2(Fds[1], 1);
    FpClose(Fds[1]);
    if FpChdir(PChar(Dir)) = 0 then FpExecv(PChar(Exe), PPChar(@Argv[0]));
    FpExit(EXEC_FAILED);
  end;
  FpClose(Fds[1]);
  if Pid < 0 then begin
    FpClose(Fds[0]);
    Output := 'fork failed';
    Exit;
  end;
  repeat
    Got := FpRead(Fds[0], Buffer, SizeOf(Buffer));
    if Got > 0 then begin
      SetString(Chunk, PChar(@Buffer[0]), Got);
      Output := Output + Chunk;
    end;
  until (Got = 0) or ((Got < 0) and (FpGetErrno <> ESysEINTR));
  FpClose(Fds[0]);
  while (FpWaitPid(Pid, @Status, 0) < 0) and (FpGetErrno = ESysEINTR) do ;
  if WIfExited(Status) then ExitStatus := WExitStatus(Status) else ExitStatus := 128;
  if (ExitStatus = EXEC_FAILED) and (Output = '') then begin
    Output := 'it could not be executed';
    Exit;
  end;
  Result := True;
end;
{$ENDIF}

constructor TUpdateVersion.Create(AOwner: TComponent);
begin
  inherited Create(AOwner);
  FFields := TStringList.Create;
  FAppName := ChangeFileExt(ExtractFileName(ParamStr(0)), '');
  FAppDir := ExtractFilePath(ExpandFileName(ParamStr(0)));
  FUpdraftExe := GetEnvironmentVariable('UPDRAFT_EXE');
end;

destructor TUpdateVersion.Destroy;
begin
  FFields.Free;
  inherited Destroy;
end;

function TUpdateVersion.FindUpdraft: string;
const
  {$IFDEF MSWINDOWS}
  NAMES: array[0..2] of string = ('updraft.exe', 'updraft.cmd', 'updraft.bat');
  {$ELSE}
  NAMES: array[0..0] of string = ('updraft');
  {$ENDIF}
var
  I: Integer;
begin
  if FUpdraftExe <> '' then begin
    Result := FUpdraftExe;
    Exit;
  end;
  for I := Low(NAMES) to High(NAMES) do begin
    Result := IncludeTrailingPathDelimiter(FAppDir) + NAMES[I];
    if FileExists(Result) then Exit;
  end;
  for I := Low(NAMES) to High(NAMES) do begin
    Result := FileSearch(NAMES[I], GetEnvironmentVariable('PATH'));
    if Result <> '' then Exit;
  end;
  Result := '';
end;

{ Runs `updraft ARGS --json` (and frees Args); True when it printed a document with `ok: true`. }
function TUpdateVersion.RunUpdraft(Args: TStringList; out ExitStatus: Integer): Boolean;
var
  Exe, Output: string;
begin
  Result := False;
  ExitStatus := -1;
  FFields.Clear;
  FLastErrorCode := '';
  FLastErrorMessage := '';
  try
    Exe := FindUpdraft;
    if Exe = '' then begin
      FLastErrorCode := 'UNSUPPORTED_RUNTIME';
      FLastErrorMessage := 'The updraft command was not found next to the app nor on the PATH';
      Exit;
    end;
    Args.Add('--json');
    if not RunCaptured(Exe, Args, FAppDir, Output, ExitStatus) then begin
      FLastErrorCode := 'UNSUPPORTED_RUNTIME';
      FLastErrorMessage := 'Could not run ' + Exe + ': ' + Output;
      Exit;
    end;
  finally
    Args.Free;
  end;
  if not ParseJsonFields(Trim(Output), FFields) then begin
    FLastErrorCode := 'INTERNAL';
    FLastErrorMessage := 'updraft printed no JSON document (exit status ' + IntToStr(ExitStatus) + ')';
    Exit;
  end;
  if FFields.Values['ok'] <> 'true' then begin
    FLastErrorCode := FFields.Values['error.code'];
    FLastErrorMessage := FFields.Values['error.message'];
    if FLastErrorCode = '' then FLastErrorCode := 'INTERNAL';
    Exit;
  end;
  Result := True;
end;

{ `VERB --dir <app folder> --saau <UrlPath> --app <app name>`. }
function TUpdateVersion.SourceArgs(const Verb: string): TStringList;
begin
  Result := TStringList.Create;
  Result.Add(Verb);
  Result.Add('--dir');
  Result.Add(ExcludeTrailingPathDelimiter(FAppDir));
  Result.Add('--saau');
  Result.Add(FUrlPath);
  Result.Add('--app');
  Result.Add(FAppName);
end;

function TUpdateVersion.HasUpdate: Boolean;
var
  Status: Integer;
begin
  Result := RunUpdraft(SourceArgs('check'), Status);
  FHit := False;
  if not Result then Exit;
  FAppVersao := FFields.Values['currentVersion'];
  FVersao := FFields.Values['latestVersion'];
  FHit := FFields.Values['skipped.version'] <> '';
  Result := (Status = UPDATE_AVAILABLE) or FHit;
end;

function TUpdateVersion.HitVersion: Boolean;
begin
  Result := FHit;
end;

function TUpdateVersion.Download: Boolean;
var
  Status: Integer;
  Args: TStringList;
begin
  Args := SourceArgs('update');
  Args.Add('--prepare-only');
  Result := RunUpdraft(Args, Status);
  Result := Result and (FFields.Values['updated'] = 'true');
  if Result then FVersao := FFields.Values['version'];
  FDownloaded := Result;
end;

function TUpdateVersion.ScriptText: string;
var
  Exe, Dir, Log, Pid: string;
  I: Integer;
begin
  // The app starts again as it was started: its executable with the same arguments.
  {$IFDEF MSWINDOWS}
  Exe := '\"' + ExpandFileName(ParamStr(0)) + '\"';
  for I := 1 to ParamCount do Exe := Exe + ' \"' + ParamStr(I) + '\"';
  {$ELSE}
  Exe := ShellQuote(ExpandFileName(ParamStr(0)));
  for I := 1 to ParamCount do Exe := Exe + ' ' + ShellQuote(ParamStr(I));
  {$ENDIF}
  Dir := ExcludeTrailingPathDelimiter(FAppDir);
  Log := IncludeTrailingPathDelimiter(FAppDir) + '.updraft' + PathDelim + 'restart.log';
  {$IFDEF FPC}Pid := IntToStr(GetProcessID);{$ELSE}Pid := IntToStr(GetCurrentProcessId);{$ENDIF}
  {$IFDEF MSWINDOWS}
  Result := '@echo off' + sLineBreak +
    'rem Written by UUpdate: hands the update to ' + FVersao + ' to Updraft''s helper, which waits for' + sLineBreak +
    'rem the app to exit, swaps its files, starts it again and rolls back if it fails.' + sLineBreak +
    'call ' + BatchQuote(FindUpdraft) + ' apply-prepared --dir ' + BatchQuote(Dir) + ' --wait-pid ' + Pid +
    ' --restart ' + BatchQuote(Exe) + ' --restart-log ' + BatchQuote(Log) + ' --json' + sLineBreak;
  {$ELSE}
  Result := '#!/bin/sh' + sLineBreak +
    '# Written by UUpdate: hands the update to ' + FVersao + ' to Updraft''s helper, which waits for' + sLineBreak +
    '# the app to exit, swaps its files, starts it again and rolls back if it fails.' + sLineBreak +
    'exec ' + ShellQuote(FindUpdraft) + ' apply-prepared --dir ' + ShellQuote(Dir) + ' --wait-pid ' + Pid +
    ' --restart ' + ShellQuote(Exe) + ' --restart-log ' + ShellQuote(Log) + ' --json' + sLineBreak;
  {$ENDIF}
end;

function TUpdateVersion.PreparaAtualizacao: Boolean;
var
  Script: TStringList;
begin
  Result := False;
  if not FDownloaded then begin
    FLastErrorCode := 'NO_UPDATE';
    FLastErrorMessage := 'Nothing was downloaded: call Download first';
    Exit;
  end;
  {$IFDEF MSWINDOWS}
  FScriptFileName := IncludeTrailingPathDelimiter(FAppDir) + '.updraft' + PathDelim + 'atualizar.bat';
  {$ELSE}
  FScriptFileName := IncludeTrailingPathDelimiter(FAppDir) + '.updraft' + PathDelim + 'atualizar.sh';
  {$ENDIF}
  Script := TStringList.Create;
  try
    Script.Text := ScriptText;
    try
      Script.SaveToFile(FScriptFileName);
    except
      on E: Exception do begin
        FLastErrorCode := 'FILE_ERROR';
        FLastErrorMessage := 'Could not write ' + FScriptFileName + ': ' + E.Message;
        Exit;
      end;
    end;
  finally
    Script.Free;
  end;
  {$IFNDEF MSWINDOWS}FpChmod(FScriptFileName, 493 { octal 755 });{$ENDIF}
  Result := True;
end;

procedure TUpdateVersion.putVersion;
begin
  // Updraft recorded the attempt when Download staged the package, and records its failure (a
  // broken package, or a version that does not start) itself: HitVersion reports it for 2 hours.
end;

end.
