// Case-insensitive matching of header field names against a fixed set, for the loops over raw
// header lines that run on every proxied request: a name is lower-cased only when its length is
// that of a name in the set, so most fields (Accept, Cookie, User-Agent…) cost one array read.

export class FieldNames {
  private readonly names: ReadonlySet<string>;
  /** 1 at index n when some name in the set is n characters long. */
  private readonly lengths: Uint8Array;

  constructor(names: Iterable<string>) {
    this.names = new Set(names);
    let longest = 0;
    for (const name of this.names) longest = Math.max(longest, name.length);
    this.lengths = new Uint8Array(longest + 1);
    for (const name of this.names) {
      if (name !== name.toLowerCase()) throw new Error(`field names are lower case: ${name}`);
      this.lengths[name.length] = 1;
    }
  }

  /** The lower-case name when `name` is in the set, in any case; undefined otherwise. */
  match(name: string): string | undefined {
    if (this.lengths[name.length] !== 1) return undefined;
    const lower = name.toLowerCase();
    return this.names.has(lower) ? lower : undefined;
  }
}
