#!/usr/bin/env node
// The `app-media` command: `app-media <link|clean|verify|find|watch> [flags]`.
import { main } from '../dist/app-media.js';

process.exitCode = await main(process.argv.slice(2));
