#!/usr/bin/env node
// The `tether` binary: registers tsx so the TypeScript sources run directly on Node 20 (no build step).
import { register } from "tsx/esm/api";

register();
await import("../cli/main.ts");
