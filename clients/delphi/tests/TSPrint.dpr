{
  A console stand-in for a SAAU app: TFMain.Atualizar below is the routine of SAAU's wiki
  ("Ajuda ao Programador") step by step, with UUpdate (Updraft's) in the uses clause. What a form
  gave it (LogF, FLog, the version label, Close) is a small console class here; on systems other
  than Windows, ShellExecute and its error constants are shims that start the script with /bin/sh
  and answer as Windows does (a value above 32 when it started). Differences from the wiki text:
  its two blanks restored (ShellExecute's `nil,nil` and `''`, lost by the wiki), the label
  `lbVersão` spelled `lbVersao` (Free Pascal identifiers are ASCII), one log line when
  HitVersion holds back a version and one when the check fails (the wiki's routine says nothing
  then; UUpdate's LastErrorCode says why).

  Used by the repository's tests: started with the repository URL as its only argument, it appends
  what it logs to <its name>.log in its folder. Compiled with -dNEWBUILD it says "build 2".
}
program TSPrint;

{$IFDEF FPC}{$MODE DELPHI}{$H+}{$ENDIF}
{$APPTYPE CONSOLE}

uses
  {$IFDEF MSWINDOWS}Windows, ShellAPI,{$ENDIF}
  SysUtils, Classes, UUpdate;

{$IFNDEF MSWINDOWS}
const
  SW_MINIMIZE = 6;
  ERROR_FILE_NOT_FOUND = 2;
  ERROR_PATH_NOT_FOUND = 3;
  ERROR_BAD_FORMAT = 11;
  SE_ERR_ACCESSDENIED = 5;
  SE_ERR_ASSOCINCOMPLETE = 27;
  SE_ERR_NOASSOC = 31;
  SE_ERR_OOM = 8;
  SE_ERR_SHARE = 26;

{ Windows' ShellExecute, as far as the routine uses it: runs the script, 33 when it ran. }
function ShellExecute(Wnd: Integer; Operation, FileName, Parameters, Directory: PChar;
  ShowCmd: Integer): Cardinal;
begin
  if not FileExists(FileName) then Result := ERROR_FILE_NOT_FOUND
  else if ExecuteProcess('/bin/sh', [string(FileName)]) = 0 then Result := 33
  else Result := SE_ERR_ACCESSDENIED;
end;
{$ENDIF}

{$IFDEF NEWBUILD}
const BUILD = 'build 2';
{$ELSE}
const BUILD = 'build 1';
{$ENDIF}

var
  APP_UPDATE_URL: string;

type
  TLogger = class
    procedure Log(const S: string);
    procedure Erro(const S: string);
  end;

  TLabel = class
    Caption: string;
  end;

  TFMain = class
    FLog: TLogger;
    lbVersao: TLabel;
    Closed: Boolean;
    constructor Create;
    destructor Destroy; override;
    procedure LogF(const S: string; Erro: Boolean = False);
    procedure Close;
    procedure Atualizar;
  end;

procedure AppendLine(const S: string);
var
  F: TextFile;
  Path: string;
begin
  Path := ChangeFileExt(ParamStr(0), '.log');
  AssignFile(F, Path);
  if FileExists(Path) then Append(F) else Rewrite(F);
  WriteLn(F, S);
  CloseFile(F);
  WriteLn(S);
  Flush(Output); // before the script's own output
end;

procedure TLogger.Log(const S: string);
begin
  AppendLine(S);
end;

procedure TLogger.Erro(const S: string);
begin
  AppendLine('ERRO ' + S);
end;

constructor TFMain.Create;
begin
  FLog := TLogger.Create;
  lbVersao := TLabel.Create;
end;

destructor TFMain.Destroy;
begin
  FLog.Free;
  lbVersao.Free;
  inherited Destroy;
end;

procedure TFMain.LogF(const S: string; Erro: Boolean = False);
begin
  if Erro then FLog.Erro(S) else FLog.Log(S);
end;

procedure TFMain.Close;
begin
  Closed := True;
end;

 // Exemplo metodo Atualizar - Verifica se existe uma atualização disponível e se for o caso atualiza a aplicação.
 procedure TFMain.Atualizar;
 var
   UPD : TUpdateVersion;
   S : String;
   i : Cardinal;
 begin
   UPD := TUpdateVersion.Create(Nil);
   UPD.UrlPath := APP_UPDATE_URL;
   try
      LogF('Verificando atualizações disponíveis...');
      if (UPD.HasUpdate) Then begin
         // testa para ver se não houve uma tentativa frustrada nas ultimas 2 horas para a nova versão
         if (not UPD.HitVersion) then begin
            LogF('   Preparando atualização de ' + ExtractFileName(ParamStr(0))+' para a versão ' + UPD.Versao);
            LogF('   Baixando arquivos da atualização...');
            if (UPD.Download) then begin
               if (UPD.PreparaAtualizacao) then begin
                  S := UPD.ScriptFileName;
                  FLog.Log('Atualizando arquivos...');
                  UPD.putVersion;

                  I := ShellExecute(0,'open',PChar(S),nil,nil,SW_MINIMIZE);
                  if (I <= 32) then begin
                     FLog.Erro('Erro ao executar o script de atualização. Codigo do erro: '+IntToStr(I));
                     S := '';
                     Case I of
                       0 : S := 'The operating system is out of memory or resources.WrapText';
                       ERROR_FILE_NOT_FOUND : S := 'Script não encontrado ('+UPD.ScriptFileName+').';
                       ERROR_PATH_NOT_FOUND: S := 'Caminho não encontrado ' + ExtractFilePath(UPD.ScriptFileName);
                       ERROR_BAD_FORMAT: S := 'Formato do arquivo inválido.';
                       SE_ERR_ACCESSDENIED: S:= 'Acesso negado ao arquivo de script.';
                       SE_ERR_ASSOCINCOMPLETE: S := 'Associação de tipo inválida ou incompleta para extensão .bat';
                       SE_ERR_NOASSOC	: S := 'Erro: SE_ERR_NOASSOC	.';
                       SE_ERR_OOM	: S := 'Não há memória disponível para completar a operação.';
                       SE_ERR_SHARE: S := 'Ocorreu uma violação de compartilhamento ao acessr o arquivo de script.';
                     end;
                     if (S <> '') then begin
                        LogF('   Erro: '+S, True);
                     end;
                  end else begin
                     Close;
                  end;

               end else begin
                  LogF('   Erro ao descompactar o pacote de atualização.',true);
               end;
            end else begin
               LogF('   Erro ao baixar o pacote de atualização.', True);
            end;
         end else begin
            LogF('   A versão ' + UPD.Versao + ' falhou nas últimas 2 horas; não será tentada agora.');
         end;
      end else if (UPD.LastErrorCode <> '') then begin
          LogF('   Erro ' + UPD.LastErrorCode + ': ' + UPD.LastErrorMessage, True);
      end else begin
          lbVersao.Caption := 'Versão  ' +  UPD.AppVersao;
          LogF('   '+ExtractFileName(ParamStr(0)) + ' já está na ultima versão disponível.');
      end;
   finally
      UPD.Free;
   end;
 end;

var
  FMain: TFMain;
begin
  APP_UPDATE_URL := ParamStr(1);
  FMain := TFMain.Create;
  try
    FMain.LogF(ExtractFileName(ParamStr(0)) + ' ' + BUILD + ' started, pid ' + IntToStr({$IFDEF FPC}GetProcessID{$ELSE}GetCurrentProcessId{$ENDIF}));
    FMain.Atualizar;
    if FMain.Closed then FMain.LogF('closing for the update')
    else FMain.LogF('running ' + FMain.lbVersao.Caption);
  finally
    FMain.Free;
  end;
end.
