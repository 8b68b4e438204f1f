/** Fixtures for the publisher tests: sample build folders, keys, a tiny static HTTP server. */
import { createReadStream } from "node:fs";
import { chmod, mkdir, stat, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join, normalize, sep } from "node:path";
import { generateKeys, type KeySet, loadKeys, ROLES } from "../../src/publish/index.js";

/** Writes a small build folder: an executable, nested files, an in-tree symlink, an empty folder. */
export async function makeBuild(dir: string, variant = "v1"): Promise<string> {
  await mkdir(join(dir, "bin"), { recursive: true });
  await mkdir(join(dir, "lib", "deep", "er"), { recursive: true });
  await mkdir(join(dir, "empty"), { recursive: true });
  await writeFile(join(dir, "bin", "app.js"), `#!/usr/bin/env node\nconsole.log(${JSON.stringify(variant)});\n`);
  await chmod(join(dir, "bin", "app.js"), 0o755);
  await writeFile(join(dir, "lib", "data.txt"), `data ${variant}\n`);
  await writeFile(join(dir, "lib", "deep", "er", "x.bin"), Buffer.alloc(70_000, 7));
  await writeFile(join(dir, "README"), "readme\n");
  await writeFile(join(dir, "Zeta.txt"), "upper-case names sort before lower-case ones\n");
  if (process.platform !== "win32") await symlink("data.txt", join(dir, "lib", "current"));
  return dir;
}

/** Generates keys in `dir` and loads all four. */
export async function makeKeys(dir: string): Promise<KeySet> {
  await generateKeys(dir);
  return loadKeys({ dir, env: {}, roles: ROLES });
}

/** A static file server over `root` on 127.0.0.1 (404 for anything missing). */
export async function serveStatic(
  root: string,
): Promise<{ url: string; requests: string[]; close: () => Promise<void> }> {
  const requests: string[] = [];
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    requests.push(path);
    const full = normalize(join(root, path));
    if (!full.startsWith(root + sep)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const st = await stat(full);
      if (!st.isFile()) throw new Error("not a file");
      res.writeHead(200, { "content-length": st.size });
      createReadStream(full).pipe(res);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
