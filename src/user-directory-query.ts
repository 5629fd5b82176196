/**
 * User directory search terms (client-server-api "User Directory"): "The search
 * is performed case-insensitively on user IDs and display names". Each word of
 * the term must start a word of the user id or display name (Synapse: prefix
 * matching of every word), as an FTS5 expression with every word quoted.
 */
const WORD = /[\p{L}\p{N}]+/gu;

export function userSearchExpression(term: string): string | null {
  const words = [...new Set([...term.matchAll(WORD)].map((m) => m[0].toLowerCase()))].slice(0, 20);
  if (words.length === 0) return null;
  return words.map((w) => `"${w}"*`).join(" AND ");
}
