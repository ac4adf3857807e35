/** A required/recommended environment entry as the API gives it: a name, or `{any_of: [...]}`. */
export type Env = string | { any_of: string[] };

export const envLabel = (e: Env): string => (typeof e === 'string' ? e : `one of ${e.any_of.join(', ')}`);
