/**
 * A SOQL error as the API words it: the query, a caret under the offending place, `ERROR at Row:r:Column:c`
 * and what is wrong, under an error code (MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE,
 * INVALID_QUERY_FILTER_OPERATOR).
 */
export class SoqlError extends Error {
  constructor(
    readonly errorCode: string,
    readonly query: string,
    readonly pos: number,
    readonly detail: string,
  ) {
    super(formatMessage(query, pos, detail));
  }
}

function formatMessage(query: string, pos: number, detail: string): string {
  const before = query.slice(0, pos);
  const row = before.split('\n').length;
  const lineStart = before.lastIndexOf('\n') + 1;
  const lineEnd = query.indexOf('\n', pos);
  const line = query.slice(lineStart, lineEnd < 0 ? undefined : lineEnd);
  const column = pos - lineStart + 1;
  return `\n${line}\n${' '.repeat(column - 1)}^\nERROR at Row:${row}:Column:${column}\n${detail}`;
}
