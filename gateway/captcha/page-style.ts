// The captcha page's stylesheet for one accent colour, with text colours picked to stay readable
// on it (WCAG contrast), so any colour the operator chooses keeps the button legible.

const TEXT = '#1d1d1f';
const WHITE = '#ffffff';
// WCAG AA for normal text.
const READABLE_CONTRAST = 4.5;

const HEX_COLOR = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;

/** `#abc` or `#aabbcc` as `#aabbcc`, lower case; anything else throws (the config checks it). */
export function longHex(color: string): string {
  // Written into the stylesheet as it is: a second check where it matters, not only in the config.
  if (!HEX_COLOR.test(color)) throw new Error(`not a CSS hex colour: ${JSON.stringify(color)}`);
  const hex = color.slice(1).toLowerCase();
  return hex.length === 3 ? `#${[...hex].map((c) => c + c).join('')}` : `#${hex}`;
}

/** WCAG relative luminance of a `#aabbcc` colour, 0 (black) to 1 (white). */
function luminance(color: string): number {
  const channel = (offset: number): number => {
    const value = parseInt(color.slice(offset, offset + 2), 16) / 255;
    return value <= 0.04045 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

/** WCAG contrast ratio of two `#aabbcc` colours, 1 to 21. */
export function contrast(a: string, b: string): number {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (light + 0.05) / (dark + 0.05);
}

/**
 * The page's only styling, inline so it costs no request and allowed by its hash in the CSP (no
 * 'unsafe-inline'). `accent` must be a CSS hex colour (anything else throws).
 * A calm card that leaves room for a 304 px widget (reCAPTCHA's) on a 360 px screen.
 */
export function pageStyle(accent: string): string {
  const color = longHex(accent);
  // The button's text: white or near-black, whichever reads better on the accent.
  const onAccent = contrast(color, WHITE) >= contrast(color, TEXT) ? WHITE : TEXT;
  // Links on the white card take the accent only when it is readable there.
  const link = contrast(color, WHITE) >= READABLE_CONTRAST ? color : TEXT;
  return (
    '*,::before,::after{box-sizing:border-box}' +
    'body{margin:0;padding:8vh 1rem 2rem;font:16px/1.5 system-ui,-apple-system,"Segoe UI",' +
    `Roboto,sans-serif;color:${TEXT};background:#f4f4f6}` +
    'main{max-width:28rem;margin:0 auto;padding:1.75rem 1.75rem 1.25rem;background:#fff;' +
    `border-top:4px solid ${color};border-radius:12px;box-shadow:0 2px 16px rgba(0,0,0,.08)}` +
    'header{margin:0 0 1.25rem;font-weight:600;color:#3a3a3c;overflow-wrap:anywhere}' +
    'header img{display:block;max-width:100%;max-height:2.5rem;width:auto;height:auto}' +
    'h1{font-size:1.375rem;line-height:1.3;margin:0 0 .75rem;overflow-wrap:anywhere}' +
    'p{margin:0 0 .75rem}' +
    '[role=alert]{margin:1rem 0;padding:.75rem 1rem;border-radius:8px;color:#8a1020;' +
    'background:#fdecee}' +
    'form{margin-top:1.25rem}' +
    'button{display:block;width:100%;margin-top:1.25rem;padding:.75rem 1rem;font:inherit;' +
    `font-weight:600;color:${onAccent};background:${color};border:0;border-radius:8px;` +
    'cursor:pointer}' +
    'button:hover{filter:brightness(.92)}' +
    `button:focus-visible,a:focus-visible{outline:3px solid ${TEXT};outline-offset:2px}` +
    'footer{display:flex;flex-wrap:wrap;gap:.25rem 1rem;justify-content:space-between;' +
    'margin-top:1.5rem;padding-top:1rem;border-top:1px solid #e5e5ea;font-size:.875rem;' +
    'color:#545458}' +
    'footer p{margin:0;min-width:0}' +
    // The reference: kept whole on its own line when it fits, selected whole by one click.
    'code{display:inline-block;max-width:100%;font:.8125rem/1.5 ui-monospace,SFMono-Regular,' +
    'Menlo,Consolas,monospace;overflow-wrap:anywhere;user-select:all}' +
    `a{color:${link}}` +
    // Narrow phones: less padding, so a 304 px widget still fits inside the card at 360 px.
    '@media (max-width:420px){body{padding:.75rem .5rem}main{padding:1.25rem 1rem 1rem}}'
  );
}
