/**
 * The console's two static files, kept as strings so that the compiled package needs no asset copy.
 * Served from the console's own origin: the CSP allows `'self'` for scripts and styles and nothing
 * inline.
 */

/** Colours meet WCAG AA contrast on white (text #1a1a1a, links #0b4f9c, red #a11d1d); focus is always visible. */
export const ADMIN_CSS = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1a1a1a;background:#fff}
header{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;padding:.5rem 1rem;background:#f1f3f6;border-bottom:1px solid #c8ccd2}
header nav ul{display:flex;gap:1rem;list-style:none;margin:0;padding:0}
header form.inline{margin-left:auto}
a{color:#0b4f9c}
a[aria-current="page"]{font-weight:700;text-decoration:none;border-bottom:2px solid #0b4f9c}
:focus-visible{outline:3px solid #c75b00;outline-offset:2px}
main{padding:1rem;max-width:72rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;width:100%}
th,td{border:1px solid #c8ccd2;padding:.3rem .5rem;text-align:left;vertical-align:top;word-break:break-word}
th{background:#f1f3f6}
td.ok{color:#1d6b2c;font-weight:700}
td.bad,.error{color:#a11d1d;font-weight:700}
.notice{background:#e8f3ea;border:1px solid #1d6b2c;padding:.5rem}
.warning{background:#fff4e5;border:1px solid #a14d00;padding:.5rem 1rem}
button{font:inherit;padding:.25rem .75rem;border:1px solid #44484f;border-radius:3px;background:#fff;color:#1a1a1a;cursor:pointer}
button.danger{border-color:#a11d1d;color:#a11d1d}
input,select{font:inherit;padding:.2rem .4rem;border:1px solid #44484f;border-radius:3px}
label{margin:0 .25rem 0 .75rem}
form{margin:.5rem 0}
.figures{display:flex;gap:2rem;flex-wrap:wrap}
.figures dt{font-size:.9rem}
.figures dd{margin:0;font-size:1.8rem;font-weight:700}
.timeline{list-style:none;padding:0}
.event{border-left:4px solid #c8ccd2;padding:.25rem .75rem;margin:.5rem 0}
.event.theft{border-left-color:#a11d1d;background:#fdf1f1}
.event p{margin:.15rem 0}
.sides{display:flex;gap:1rem;flex-wrap:wrap}
.side{flex:1 1 18rem;border:1px solid #c8ccd2;padding:.25rem .75rem;background:#fff}
.side h3{font-size:1rem;margin:.25rem 0}
.chart{margin:0 0 1rem}
.skip{position:absolute;left:-999px}
.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
code{font-size:.85em}
`;

/**
 * Fills the sign-in form from the link's fragment (`#id=...&t=...`), where the ticket travels so that
 * it never reaches a server log, and removes the fragment from the address bar and history.
 */
export const LOGIN_JS = `(function () {
  var field = document.getElementById('link');
  if (field && location.hash.length > 1) {
    field.value = location.hash.slice(1);
    history.replaceState(null, '', location.pathname);
  }
})();
`;
