// GraphQL Code Generator: typed documents (client preset) from the schema
// chatty serves (web/schema.graphql, written by `make schema` from the
// executable schema: what GET /graphql/schema.graphql answers).
// `make web` runs it; CI checks the result is committed.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "schema.graphql",
  documents: ["src/**/*.{ts,tsx}", "!src/gql/**/*"],
  ignoreNoDocuments: false,
  generates: {
    "src/gql/": {
      preset: "client",
      // Fragments are colocated for what each component reads; unmasked, so
      // a screen passes its query's data straight down.
      presetConfig: { fragmentMasking: false },
      config: {
        scalars: { Time: "string", Cursor: "string", Upload: "File", ID: "string" },
        enumsAsTypes: true,
        useTypeImports: true,
        skipTypename: false,
        nonOptionalTypename: true,
      },
    },
  },
};
export default config;
