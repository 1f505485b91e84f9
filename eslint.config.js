// Type-aware lint: an unawaited promise in a payment path is a lost payment.
import tseslint from "typescript-eslint";
import importX from "eslint-plugin-import-x";
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";
import globals from "globals";

export default tseslint.config(
  {
    ignores: [
      "node_modules/",
      ".data/",
      "coverage/",
      "dist/",
      ".dependency-cruiser.cjs",
      "gateway/grpc/generated/",
    ],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "import-x": importX },
    // Without a TypeScript resolver import-x cannot follow `./x.ts` and no-cycle sees no edges at
    // all (test/unit/layer-rules.unit.spec.ts proves it now catches a cycle).
    settings: {
      "import-x/extensions": [".ts", ".js"],
      "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
      "import-x/resolver-next": [createTypeScriptImportResolver({ project: "./tsconfig.json" })],
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/switch-exhaustiveness-check": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "import-x/no-cycle": "error",
    },
  },
  {
    files: ["test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unused-expressions": "off",
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
  { files: ["eslint.config.js"], ...tseslint.configs.disableTypeChecked },
  // The console's browser modules: plain JS outside the TypeScript program, so no type-aware rules,
  // but linted with the browser's globals (an undefined name or an unused import is still an error).
  {
    files: ["gateway/console/**/*.js"],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: globals.browser,
      sourceType: "module",
    },
    rules: {
      ...tseslint.configs.disableTypeChecked.rules,
      "no-undef": "error",
      "@typescript-eslint/consistent-type-imports": "off",
    },
  },
);
