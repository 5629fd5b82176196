/**
 * Statements that go into a caller's `db.batch` lose their row type on the way
 * back (D1Result's rows are `unknown`). A query function returns its statement
 * as `RowsStatement<Row>` and the caller reads the batch result with
 * `rowsOf(statement, result)`: the row type stays next to the SQL.
 */
export type RowsStatement<Row> = D1PreparedStatement & { readonly __row?: Row };

/** The rows `result` holds for `statement` (the result at the statement's place in the batch). */
export function rowsOf<Row>(_statement: RowsStatement<Row>, result: D1Result | undefined): Row[] {
  return (result?.results ?? []) as Row[];
}

/** The first row, if any. */
export function firstRowOf<Row>(statement: RowsStatement<Row>, result: D1Result | undefined): Row | undefined {
  return rowsOf(statement, result)[0];
}
