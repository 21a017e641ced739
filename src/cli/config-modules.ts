// The configuration's modules, loaded only by the commands that read a
// configuration file: its schema library is most of a flag run's start-up.
export async function configModules() {
  const [load, resolve] = await Promise.all([import('../config/load.js'), import('../config/resolve.js')]);
  return { loadConfig: load.loadConfig, resolveJobs: resolve.resolveJobs, checkNestedMountRoots: resolve.checkNestedMountRoots };
}
