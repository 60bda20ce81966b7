import { errors } from '../errors.js';
import { readConfigText } from './read.js';

/** Parses JSON text; a syntax error becomes APP_MEDIA_BAD_JSON with line and column. */
export function parseJson(text: string, displayFile: string): unknown {
  try {
    return JSON.parse(stripBom(text));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const match = /at position (\d+)/.exec(message);
    const position = match?.[1] !== undefined ? Number(match[1]) : text.length;
    const { line, column } = lineAndColumn(text, position);
    const detail = message.replace(/\s*in JSON at position \d+.*$/, '').replace(/ \(line \d+ column \d+\)$/, '');
    throw errors.badJson(displayFile, line, column, detail);
  }
}

/** A config file or package.json: a regular file of at most 10 MiB (read.ts), parsed. */
export function readJsonFile(file: string, displayFile: string): unknown {
  return parseJson(readConfigText(file, displayFile), displayFile);
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function lineAndColumn(text: string, position: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < position && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: position - lineStart + 1 };
}
