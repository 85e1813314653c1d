// Everything lives in a shadow root: the host page's CSS does not reach in
// and ours does not leak out. `all: initial` on the host stops inherited
// properties (font, color, line-height …) from coming through too, and
// again on the inner wrapper: the page's rules for the host element itself
// win over :host. Colours
// are custom properties a host may set on the mount element
// (--chatty-accent, --chatty-badge-bg, …), the one door left open on purpose.
export const css = `
:host{all:initial;display:inline-block;position:relative}
.widget{all:initial;display:inline-block;font:14px/1.4 system-ui,-apple-system,"Segoe UI","Noto Sans KR","Noto Sans CJK KR","Apple SD Gothic Neo",sans-serif;color:#1f2328}
*{box-sizing:border-box}
.bell{position:relative;display:inline-flex;align-items:center;justify-content:center;width:40px;height:40px;border-radius:50%;background:var(--chatty-bell-bg,#f0f2f5);color:var(--chatty-bell-fg,#1f2328);text-decoration:none;border:0;padding:0}
a.bell:focus-visible{outline:2px solid var(--chatty-accent,#2563eb);outline-offset:2px}
.bell svg{width:22px;height:22px}
.count{position:absolute;top:-4px;right:-6px;min-width:20px;height:20px;padding:0 6px;border-radius:10px;background:var(--chatty-badge-bg,#d92d20);color:var(--chatty-badge-fg,#fff);font-size:12px;font-weight:700;line-height:20px;text-align:center;font-variant-numeric:tabular-nums}
.count[hidden]{display:none}
[data-state=error] .bell,[data-state=connecting] .bell{opacity:.55}
[data-state=error] .count{background:#6b7280}
.toasts{position:fixed;z-index:2147483000;right:16px;bottom:16px;display:flex;flex-direction:column;gap:8px;width:min(320px,calc(100vw - 32px));pointer-events:none}
.toast{pointer-events:auto;display:flex;gap:8px;align-items:flex-start;padding:10px 12px;border-radius:10px;background:var(--chatty-toast-bg,#111827);color:var(--chatty-toast-fg,#f9fafb);box-shadow:0 6px 24px rgba(0,0,0,.25);animation:in .18s ease-out}
.toast p{margin:0;flex:1;min-width:0;overflow-wrap:anywhere}
.toast .title{font-weight:600}
.toast .body{opacity:.85;display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;overflow:hidden}
.toast button{all:unset;cursor:pointer;width:20px;height:20px;line-height:20px;text-align:center;border-radius:4px;opacity:.8}
.toast button:focus-visible{outline:2px solid currentColor}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@keyframes in{from{transform:translateY(8px);opacity:0}}
@media (prefers-reduced-motion:reduce){.toast{animation:none}}
`;
