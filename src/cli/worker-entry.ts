/**
 * The entry URL of a worker thread module beside this file: the built .js
 * file, or, running from sources under tsx, a stub that registers tsx's
 * loader in the new thread (loader hooks are per thread) before importing
 * the .ts file.
 */
export function workerEntry(baseName: string, from: string = import.meta.url): URL {
  if (!from.endsWith(".ts")) return new URL(`./${baseName}.js`, from);
  const target = new URL(`./${baseName}.ts`, from).href;
  // A data: URL cannot resolve bare specifiers: name tsx's API by its resolved file URL.
  const tsxApi = import.meta.resolve("tsx/esm/api");
  const stub = `import { register } from ${JSON.stringify(tsxApi)}; register(); await import(${JSON.stringify(target)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(stub)}`);
}
