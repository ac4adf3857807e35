/** The tenant server's version (the OpenAPI document, GET /buildinfo). */
export const TENANT_VERSION = '0.1.0';
