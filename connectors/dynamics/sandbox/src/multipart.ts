/**
 * MIME multipart/mixed with embedded HTTP messages, the wire format of OData `$batch` (RFC 2046 + OData 4.0
 * JSON batch "multipart" format). The sandbox parses requests and builds responses with it. The connector has its
 * own copy: the sandbox stands for Dataverse, so it shares no code with the client it is there to check.
 */
export interface Headers {
  [lowercaseName: string]: string;
}

export interface MimePart {
  headers: Headers;
  body: string;
}

export interface HttpMessage {
  /** `POST /api/data/v9.2/contacts HTTP/1.1` or `HTTP/1.1 204 No Content`. */
  startLine: string;
  headers: Headers;
  body: string;
}

export class MultipartError extends Error {}

/** The `boundary` parameter of a multipart Content-Type, quoted or not. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  const m = /boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  return m ? (m[1] ?? m[2]) : undefined;
}

function splitHead(text: string): [string, string] {
  const crlf = text.indexOf('\r\n\r\n');
  const lf = text.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf <= lf)) return [text.slice(0, crlf), text.slice(crlf + 4)];
  if (lf >= 0) return [text.slice(0, lf), text.slice(lf + 2)];
  return [text, ''];
}

function parseHeaderLines(lines: string[]): Headers {
  const headers: Headers = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return headers;
}

/** The parts between `--boundary` delimiters, up to the closing `--boundary--`. */
export function splitMultipart(body: string, boundary: string): MimePart[] {
  const delimiter = `--${boundary}`;
  const chunks = body.split(delimiter);
  if (chunks.length < 2) throw new MultipartError(`no part delimited by '${delimiter}'`);
  const parts: MimePart[] = [];
  let closed = false;
  for (const chunk of chunks.slice(1)) {
    if (chunk.startsWith('--')) {
      closed = true;
      break;
    }
    const content = chunk.replace(/^[ \t]*\r?\n/, '').replace(/\r?\n$/, '');
    const [head, rest] = splitHead(content);
    parts.push({ headers: parseHeaderLines(head.split(/\r?\n/)), body: rest });
  }
  if (!closed) throw new MultipartError(`multipart body has no closing '${delimiter}--'`);
  return parts;
}

export function parseHttpMessage(text: string): HttpMessage {
  const [head, body] = splitHead(text);
  const lines = head.split(/\r?\n/);
  const startLine = (lines[0] ?? '').trim();
  if (!startLine) throw new MultipartError('embedded HTTP message without a start line');
  return { startLine, headers: parseHeaderLines(lines.slice(1)), body: body.replace(/\r?\n$/, '') };
}

/** Serialises parts as multipart/mixed with CRLF line ends. */
export function buildMultipart(boundary: string, parts: MimePart[]): string {
  let out = '';
  for (const part of parts) {
    out += `--${boundary}\r\n`;
    for (const [name, value] of Object.entries(part.headers)) out += `${name}: ${value}\r\n`;
    out += `\r\n${part.body}\r\n`;
  }
  return `${out}--${boundary}--\r\n`;
}

export function buildHttpMessage(message: HttpMessage): string {
  let out = `${message.startLine}\r\n`;
  for (const [name, value] of Object.entries(message.headers)) out += `${name}: ${value}\r\n`;
  return `${out}\r\n${message.body}`;
}
