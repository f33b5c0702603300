/**
 * The `$batch` wire format as a server reads and writes it: MIME multipart/mixed (RFC 2046 §5.1) whose parts are
 * HTTP messages (OData 4.0 "Batch Requests", which Dataverse follows:
 * https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api).
 * Written for the sandbox from the RFC, line by line, rather than shared with the connector it is there to
 * check. Requests are read leniently (CRLF or LF line ends, header names in any case, a preamble before the first
 * delimiter, padding after a delimiter); answers are written with CRLF, as the RFC requires.
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

/** A body that is not the multipart the request says it is: answered 400. */
export class MultipartError extends Error {}

const CRLF = '\r\n';

/** The `boundary` parameter of a Content-Type (RFC 2046 §5.1.1: quoted or a token). */
export function boundaryOf(contentType: string | undefined): string | undefined {
  for (const parameter of (contentType ?? '').split(';').slice(1)) {
    const eq = parameter.indexOf('=');
    if (eq < 0 || parameter.slice(0, eq).trim().toLowerCase() !== 'boundary') continue;
    const value = parameter.slice(eq + 1).trim();
    return value.startsWith('"') && value.endsWith('"') && value.length >= 2 ? value.slice(1, -1) : value;
  }
  return undefined;
}

/** Lines without their ends (CR LF, or a lone LF). */
function linesOf(text: string): string[] {
  return text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
}

/** Header lines up to the first empty one, and the index of the line after it. */
function readHeaders(lines: readonly string[], from: number): { headers: Headers; next: number } {
  const headers: Headers = {};
  let i = from;
  for (; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line === '') return { headers, next: i + 1 };
    const colon = line.indexOf(':');
    if (colon <= 0) throw new MultipartError(`a header line without a name: '${line.slice(0, 80)}'`);
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, next: i };
}

/**
 * The body parts of a multipart body: what lies between `--boundary` lines (RFC 2046: a delimiter is a line of its
 * own, possibly followed by blanks), up to the closing `--boundary--` line; the preamble and epilogue are dropped.
 */
export function splitMultipart(body: string, boundary: string): MimePart[] {
  const delimiter = `--${boundary}`;
  const lines = linesOf(body);
  const parts: MimePart[] = [];
  let current: string[] | undefined;
  const finish = () => {
    if (!current) return;
    const { headers, next } = readHeaders(current, 0);
    parts.push({ headers, body: current.slice(next).join(CRLF) });
  };
  for (const line of lines) {
    const trimmed = line.trimEnd();
    if (trimmed === `${delimiter}--`) {
      finish();
      return parts;
    }
    if (trimmed === delimiter) {
      finish();
      current = [];
    } else if (current) current.push(line);
  }
  if (!current) throw new MultipartError(`no part delimited by '${delimiter}'`);
  throw new MultipartError(`the multipart body has no closing '${delimiter}--'`);
}

/** An HTTP message in a part: start line, headers, empty line, body (trailing line ends dropped). */
export function parseHttpMessage(text: string): HttpMessage {
  const lines = linesOf(text);
  let first = 0;
  while (first < lines.length && (lines[first] as string).trim() === '') first++;
  const startLine = (lines[first] ?? '').trim();
  if (!startLine) throw new MultipartError('an HTTP message without a request line');
  const { headers, next } = readHeaders(lines, first + 1);
  const rest = lines.slice(next);
  while (rest.length > 0 && rest[rest.length - 1] === '') rest.pop();
  return { startLine, headers, body: rest.join(CRLF) };
}

function headerLines(headers: Headers): string {
  return Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}${CRLF}`)
    .join('');
}

/** A multipart/mixed body with CRLF line ends and a closing delimiter. */
export function buildMultipart(boundary: string, parts: readonly MimePart[]): string {
  const encoded = parts.map((part) => `--${boundary}${CRLF}${headerLines(part.headers)}${CRLF}${part.body}${CRLF}`);
  return `${encoded.join('')}--${boundary}--${CRLF}`;
}

/** An HTTP message as a part's body. */
export function buildHttpMessage(message: HttpMessage): string {
  return `${message.startLine}${CRLF}${headerLines(message.headers)}${CRLF}${message.body}`;
}
