// Writes schema.json from the compiled config tables (run by `npm run build`).
import { writeFileSync } from 'node:fs';
import { configSchema } from '../dist/core/config/schema.js';

writeFileSync(new URL('../schema.json', import.meta.url), `${JSON.stringify(configSchema(), null, 2)}\n`);
