/** Bounded parallelism for the many small file operations of a delta (stat, link, hash). */

/**
 * Calls `fn` for every item with at most `limit` calls in flight; rejects with the first error
 * (after the calls in flight settle), so no work continues behind the caller's back.
 */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: { error: unknown } | undefined;
  const lane = async () => {
    while (next < items.length && !failed) {
      const index = next++;
      try {
        await fn(items[index]!, index);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  if (failed) throw failed.error;
}
