/** Waits for `closed` or `ms`, whichever comes first, without keeping a timer alive after. */
export async function waitClosed(closed: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([closed.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
