/**
 * Checks that a schema `pattern` runs in linear time, two ways:
 *
 * - a lint over the pattern's structure for the two shapes that make a backtracking engine (V8's Irregexp, which
 *   ajv uses) super-linear: nested unbounded quantifiers whose iterations can split the same text differently
 *   (`(a+)+`, `(a|a)*`), and two unbounded quantifiers in one sequence that can both take the same characters with
 *   nothing mandatory and disjoint between them (`[^\0]*\S[^\0]*` — the org-name pattern of issue 7 item 3);
 * - adversarial inputs: for every unbounded quantifier, a prefix that reaches it, a long run of a character it
 *   accepts, and each kind of character that could make the match fail at the end.
 *
 * Character sets are compared by membership over a sample of code points (ASCII, Latin-1 and Latin Extended,
 * Unicode spaces, a CJK character, an emoji): an approximation, which is why the timing check backs the lint.
 * Only the regex syntax the schemas use is supported; anything else (backreferences) is refused, not guessed at.
 */

export interface Quantifier {
  min: number;
  max: number;
}

export type RegexNode =
  | { type: 'atom'; source: string; q: Quantifier }
  | { type: 'group'; alternatives: RegexNode[][]; q: Quantifier; lookaround: boolean; source: string }
  | { type: 'assertion'; source: string };

const ONCE: Quantifier = { min: 1, max: 1 };

class Parser {
  private i = 0;
  constructor(private readonly src: string) {}

  parse(): RegexNode {
    const alternatives = this.alternatives();
    if (this.i < this.src.length) throw new Error(`unbalanced ")" at ${this.i} in ${this.src}`);
    return { type: 'group', alternatives, q: ONCE, lookaround: false, source: this.src };
  }

  private alternatives(): RegexNode[][] {
    const alts: RegexNode[][] = [this.sequence()];
    while (this.src[this.i] === '|') {
      this.i++;
      alts.push(this.sequence());
    }
    return alts;
  }

  private sequence(): RegexNode[] {
    const seq: RegexNode[] = [];
    while (this.i < this.src.length && this.src[this.i] !== '|' && this.src[this.i] !== ')') seq.push(this.term());
    return seq;
  }

  private term(): RegexNode {
    const start = this.i;
    const c = this.src[this.i]!;
    if (c === '^' || c === '$') {
      this.i++;
      return { type: 'assertion', source: c };
    }
    if (c === '\\' && (this.src[this.i + 1] === 'b' || this.src[this.i + 1] === 'B')) {
      this.i += 2;
      return { type: 'assertion', source: this.src.slice(start, this.i) };
    }
    if (c === '(') {
      this.i++;
      let lookaround = false;
      if (this.src.startsWith('?:', this.i)) this.i += 2;
      else if (/^\?<?[=!]/.test(this.src.slice(this.i, this.i + 3))) {
        lookaround = true;
        this.i += this.src[this.i + 1] === '<' ? 3 : 2;
      } else if (this.src.startsWith('?<', this.i)) this.i = this.src.indexOf('>', this.i) + 1;
      const alternatives = this.alternatives();
      if (this.src[this.i] !== ')') throw new Error(`unclosed group at ${start} in ${this.src}`);
      this.i++;
      const source = this.src.slice(start, this.i);
      return { type: 'group', alternatives, q: lookaround ? ONCE : this.quantifier(), lookaround, source };
    }
    if (c === '[') {
      this.i++;
      while (this.i < this.src.length && this.src[this.i] !== ']') {
        if (this.src[this.i] === '\\') this.escape();
        else this.i++;
      }
      if (this.src[this.i] !== ']') throw new Error(`unclosed class at ${start} in ${this.src}`);
      this.i++;
    } else if (c === '\\') this.escape();
    else this.i += String.fromCodePoint(this.src.codePointAt(this.i)!).length;
    const source = this.src.slice(start, this.i);
    return { type: 'atom', source, q: this.quantifier() };
  }

  /** Steps over one escape sequence starting at `\`. */
  private escape(): void {
    const c = this.src[this.i + 1];
    if (c === undefined) throw new Error(`dangling "\\" in ${this.src}`);
    if (/[1-9k]/.test(c)) throw new Error(`backreferences are not supported by this check: ${this.src}`);
    this.i += 2;
    if ((c === 'u' || c === 'p' || c === 'P') && this.src[this.i] === '{') this.i = this.src.indexOf('}', this.i) + 1;
    else if (c === 'u') this.i += 4;
    else if (c === 'x') this.i += 2;
    else if (c === 'c') this.i += 1;
  }

  private quantifier(): Quantifier {
    const c = this.src[this.i];
    let q: Quantifier | null = null;
    if (c === '*') q = { min: 0, max: Infinity };
    else if (c === '+') q = { min: 1, max: Infinity };
    else if (c === '?') q = { min: 0, max: 1 };
    if (q) this.i++;
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i));
      if (!m) return ONCE;
      const min = Number(m[1]);
      q = { min, max: m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]) };
      this.i += m[0].length;
    } else return ONCE;
    if (this.src[this.i] === '?') this.i++; // lazy: same set of matches, same ambiguity
    return q;
  }
}

export function parsePattern(pattern: string): RegexNode {
  return new Parser(pattern).parse();
}

// ---- character sets over a sample universe -------------------------------------------------------------------

function range(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, k) => String.fromCodePoint(from + k));
}
/** Preferred witnesses first (letters, digits), then the rest; every character whose class matters here. */
const UNIVERSE: string[] = [
  ...new Set([
    ...range(0x61, 0x7a), ...range(0x41, 0x5a), ...range(0x30, 0x39), ...range(0x00, 0x24f),
    '\u2028', '\u2029', '\u3000', '\ufeff', '\u200b', '\u4e2d', '\u{1f600}',
  ]),
];

type CharSet = boolean[];

function setOfAtom(source: string, flags: string): CharSet {
  const re = new RegExp(`^(?:${source})$`, flags);
  return UNIVERSE.map((ch) => re.test(ch));
}
const union = (a: CharSet, b: CharSet): CharSet => a.map((x, k) => x || b[k]!);
const intersect = (a: CharSet, b: CharSet): CharSet => a.map((x, k) => x && b[k]!);
const isEmpty = (a: CharSet): boolean => !a.includes(true);
const EMPTY: CharSet = UNIVERSE.map(() => false);

const unbounded = (n: RegexNode): boolean =>
  n.type === 'atom' ? n.q.max === Infinity : n.type === 'group' && !n.lookaround && (n.q.max === Infinity || n.alternatives.some((s) => s.some(unbounded)));
const mandatory = (n: RegexNode): boolean => n.type !== 'assertion' && !(n.type === 'group' && n.lookaround) && n.q.min >= 1 && (n.type === 'atom' || n.alternatives.every((s) => s.some(mandatory)));

/** A group matched exactly once with one alternative is just its items in the enclosing sequence. */
function flatten(seq: RegexNode[]): RegexNode[] {
  return seq.flatMap((n) => (n.type === 'group' && !n.lookaround && n.q.min === 1 && n.q.max === 1 && n.alternatives.length === 1 ? flatten(n.alternatives[0]!) : [n]));
}

export class PatternAnalysis {
  readonly root: RegexNode;
  private readonly sets = new Map<RegexNode, CharSet>();
  constructor(
    readonly pattern: string,
    readonly flags = 'u',
  ) {
    this.root = parsePattern(pattern);
  }

  /** Every character the node can consume. */
  all(n: RegexNode): CharSet {
    let s = this.sets.get(n);
    if (s) return s;
    if (n.type === 'atom') s = setOfAtom(n.source, this.flags);
    else if (n.type === 'group' && !n.lookaround) s = n.alternatives.flat().reduce((acc, m) => union(acc, this.all(m)), EMPTY);
    else s = EMPTY;
    this.sets.set(n, s);
    return s;
  }

  /** Characters the node can start (or, reversed, end) with. */
  private edge(n: RegexNode, fromEnd: boolean): CharSet {
    if (n.type !== 'group' || n.lookaround) return this.all(n);
    let acc = EMPTY;
    for (const alt of n.alternatives) {
      const seq = fromEnd ? [...alt].reverse() : alt;
      for (const m of seq) {
        acc = union(acc, this.edge(m, fromEnd));
        if (mandatory(m)) break;
      }
    }
    return acc;
  }

  /** Why the pattern may backtrack super-linearly; empty when the lint finds nothing. */
  lint(): string[] {
    const problems: string[] = [];
    const visit = (n: RegexNode) => {
      if (n.type !== 'group') return;
      for (const alt of n.alternatives) this.lintSequence(flatten(alt), problems);
      if (n.q.max === Infinity && !n.lookaround) this.lintRepeatedGroup(n, problems);
      for (const m of n.alternatives.flat()) visit(m);
    };
    visit(this.root);
    // Without `^` the engine retries from every start position, so one linear scan per position is quadratic.
    const anchored = this.root.type === 'group' && this.root.alternatives.every((alt) => flatten(alt)[0]?.type === 'assertion' && flatten(alt)[0]?.source === '^');
    if (!anchored && unbounded(this.root)) problems.push('unanchored pattern with an unbounded quantifier: every start position rescans it');
    return [...new Set(problems)];
  }

  private lintSequence(seq: RegexNode[], problems: string[]) {
    for (let i = 0; i < seq.length; i++) {
      if (!unbounded(seq[i]!)) continue;
      for (let j = i + 1; j < seq.length; j++) {
        if (!unbounded(seq[j]!)) continue;
        const shared = intersect(this.edge(seq[i]!, true), this.edge(seq[j]!, false));
        if (isEmpty(shared)) continue;
        const separated = seq.slice(i + 1, j).some((k) => mandatory(k) && isEmpty(intersect(this.all(k), shared)));
        if (!separated) problems.push(`adjacent quantifiers ${src(seq[i]!)} … ${src(seq[j]!)} can take the same characters`);
      }
    }
  }

  private lintRepeatedGroup(g: Extract<RegexNode, { type: 'group' }>, problems: string[]) {
    if (g.alternatives.some((alt) => !alt.some(mandatory))) problems.push(`repeated group ${g.source} can match the empty string`);
    const firsts = g.alternatives.map((alt) => this.edge({ type: 'group', alternatives: [alt], q: ONCE, lookaround: false, source: '' }, false));
    for (let a = 0; a < firsts.length; a++) {
      for (let b = a + 1; b < firsts.length; b++) {
        if (!isEmpty(intersect(firsts[a]!, firsts[b]!))) problems.push(`repeated group ${g.source} has alternatives that start alike`);
      }
    }
    for (const alt of g.alternatives) {
      const seq = flatten(alt);
      for (const inner of seq) {
        if (!unbounded(inner)) continue;
        const separated = seq.some((k) => k !== inner && mandatory(k) && isEmpty(intersect(this.all(k), this.all(inner))));
        if (!separated) problems.push(`nested quantifiers: ${src(inner)} inside repeated group ${g.source}`);
      }
    }
  }

  /** A shortest-ish string the node matches (lookarounds and assertions contribute nothing). */
  witness(n: RegexNode): string {
    if (n.type === 'assertion' || (n.type === 'group' && n.lookaround)) return '';
    const once = n.type === 'atom' ? (UNIVERSE[this.all(n).indexOf(true)] ?? '') : (n.alternatives[0] ?? []).map((m) => this.witness(m)).join('');
    return once.repeat(n.q.min);
  }

  /**
   * Adversarial inputs, described rather than built (each is a few hundred KB): for each unbounded quantifier, the
   * witness of what precedes it, then a run of one character it accepts (one per distinct way the pattern's atoms
   * classify characters), then a character that may fail the match (again one per class, plus none at all).
   */
  adversarialInputs(): AdversarialInput[] {
    const atoms: RegexNode[] = [];
    const collect = (n: RegexNode) => {
      if (n.type === 'atom') atoms.push(n);
      if (n.type === 'group') n.alternatives.flat().forEach(collect);
    };
    collect(this.root);
    const atomSets = atoms.map((a) => this.all(a));
    const classes = new Map<string, string>();
    UNIVERSE.forEach((ch, k) => {
      const signature = atomSets.map((s) => (s[k] ? '1' : '0')).join('');
      if (!classes.has(signature)) classes.set(signature, ch);
    });
    const representatives = [...classes.values()];
    const inputs = new Map<string, AdversarialInput>();
    const pump = (prefix: string, unit: string) => {
      if (unit === '') return;
      for (const suffix of ['', ...representatives]) inputs.set(JSON.stringify([prefix, unit, suffix]), { prefix, unit, suffix });
    };
    const walk = (seq: RegexNode[], prefix: string) => {
      let before = prefix;
      for (const n of seq) {
        if (n.type === 'atom' && n.q.max === Infinity) {
          for (const ch of representatives) if (this.all(n)[UNIVERSE.indexOf(ch)]) pump(before, ch);
        }
        if (n.type === 'group' && !n.lookaround) {
          for (const alt of n.alternatives) {
            if (n.q.max === Infinity) pump(before, alt.map((m) => this.witness(m)).join(''));
            walk(alt, before);
          }
        }
        before += this.witness(n);
      }
    };
    walk([this.root], '');
    // Plain long runs too, for patterns with no unbounded quantifier at all.
    for (const ch of representatives) pump('', ch);
    return [...inputs.values()];
  }
}

/** `prefix`, then `unit` repeated to the wanted length, then `suffix`. */
export interface AdversarialInput {
  prefix: string;
  unit: string;
  suffix: string;
}

export function materialize(input: AdversarialInput, length: number): string {
  return input.prefix + input.unit.repeat(Math.ceil(length / input.unit.length)) + input.suffix;
}

export function describeInput(input: AdversarialInput, length: number): string {
  return `${JSON.stringify(input.prefix)} + ${JSON.stringify(input.unit)} x ${Math.ceil(length / input.unit.length)} + ${JSON.stringify(input.suffix)}`;
}

function src(n: RegexNode): string {
  if (n.type === 'assertion') return n.source;
  const q = n.q;
  const suffix = q.min === 1 && q.max === 1 ? '' : q.max === Infinity ? (q.min === 0 ? '*' : q.min === 1 ? '+' : `{${q.min},}`) : `{${q.min},${q.max}}`;
  return n.source + suffix;
}
