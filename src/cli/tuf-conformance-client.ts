#!/usr/bin/env node
/** Entry of `updraft-tuf-conformance-client` (the tuf-conformance client protocol); see ./tuf-conformance.ts. */
import { main } from "./tuf-conformance.js";

process.exitCode = await main();
