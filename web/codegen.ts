// GraphQL Code Generator: typed documents (client preset) from the schema
// chatty serves, i.e. the files gqlgen reads (graph/*.graphql, *.graphqls).
// `make web` runs it; CI checks the result is committed.
import { readFileSync, readdirSync } from "node:fs";
import type { CodegenConfig } from "@graphql-codegen/cli";

const graph = "../graph/";
const files = readdirSync(graph)
  .filter((f) => f.endsWith(".graphql") || f.endsWith(".graphqls"))
  .sort()
  .map((f) => graph + f);
const served = files.map((f) => readFileSync(f, "utf8")).join("\n");
// Query.authProviders is in the contract before the server serves it.
const pending = /\bauthProviders\s*:/.test(served) ? [] : ["codegen/auth-providers.graphql"];

const config: CodegenConfig = {
  schema: [...files, "codegen/directives.graphql", ...pending],
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
