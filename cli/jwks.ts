import { readFileSync } from "node:fs";
import { JwksKeyResolver, TetherError } from "../protocols/index.ts";

/**
 * Loads a JWKS from a file path or an http(s) URL, for `--jwks`. A missing or unreadable file, a
 * failed fetch and text that is not a JWKS are ERR_CONFIG_INVALID naming the flag and the source.
 */
export const loadJwks = async (source: string, flag = "--jwks"): Promise<JwksKeyResolver> => {
  let text: string;
  if (/^https?:\/\//.test(source)) {
    let response: Response;
    try {
      response = await fetch(source, { signal: AbortSignal.timeout(10_000) });
    } catch (cause) {
      throw new TetherError("ERR_CONFIG_INVALID", `${flag}: cannot fetch JWKS ${source}: ${String(cause)}`, { cause });
    }
    if (!response.ok) throw new TetherError("ERR_CONFIG_INVALID", `${flag}: cannot fetch JWKS ${source}: HTTP ${response.status}`);
    text = await response.text();
  } else {
    try {
      text = readFileSync(source, "utf8");
    } catch (cause) {
      const reason = (cause as { code?: string }).code === "ENOENT" ? "no such file" : String(cause);
      throw new TetherError("ERR_CONFIG_INVALID", `${flag}: cannot read JWKS file ${source}: ${reason}`, { cause });
    }
  }
  let jwks: unknown;
  try {
    jwks = JSON.parse(text);
  } catch (cause) {
    throw new TetherError("ERR_CONFIG_INVALID", `${flag}: ${source} is not JSON`, { cause });
  }
  try {
    return new JwksKeyResolver(jwks as { keys: unknown[] });
  } catch (cause) {
    throw new TetherError("ERR_CONFIG_INVALID", `${flag}: ${source} is not a JWKS (an object with a keys array)`, { cause });
  }
};
