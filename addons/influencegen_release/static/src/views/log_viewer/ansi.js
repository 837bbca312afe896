// ANSI SGR colours (ESC[...m) to CSS classes; other escape sequences are dropped.
const ESCAPE = /\x1b\[([0-9;?]*)([A-Za-z])/g; // eslint-disable-line no-control-regex

/** Splits `line` into `[{text, classes}]`; `style` ({fg, bg, bold}) carries over lines. */
export function ansiSegments(line, style) {
    const segments = [];
    let last = 0;
    const push = (text) => {
        if (text) {
            const classes = [];
            if (style.fg !== undefined) {
                classes.push(`o_igr_fg${style.fg}`);
            }
            if (style.bg !== undefined) {
                classes.push(`o_igr_bg${style.bg}`);
            }
            if (style.bold) {
                classes.push("fw-bold");
            }
            segments.push({ text, classes: classes.join(" ") });
        }
    };
    for (const match of line.matchAll(ESCAPE)) {
        push(line.slice(last, match.index));
        last = match.index + match[0].length;
        if (match[2] === "m") {
            applySgr(match[1], style);
        }
    }
    push(line.slice(last));
    return segments;
}

function applySgr(params, style) {
    for (const code of (params || "0").split(";").map(Number)) {
        if (code === 0) {
            delete style.fg;
            delete style.bg;
            style.bold = false;
        } else if (code === 1) {
            style.bold = true;
        } else if (code === 22) {
            style.bold = false;
        } else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) {
            style.fg = code % 10 + (code >= 90 ? 8 : 0);
        } else if (code === 39) {
            delete style.fg;
        } else if ((code >= 40 && code <= 47) || (code >= 100 && code <= 107)) {
            style.bg = code % 10 + (code >= 100 ? 8 : 0);
        } else if (code === 49) {
            delete style.bg;
        }
    }
}
