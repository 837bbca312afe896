import { Component, onMounted, onPatched, useRef, xml } from "@odoo/owl";

const SVG = "http://www.w3.org/2000/svg";

/** The `needs` edges of a run graph: an SVG layer over the stage columns, one curve from the
 * card of each needed job to the card of the job that needs it (a task that starts as soon as
 * those are done). Drawn from the cards' positions after every render; nothing else reads it. */
export class RunGraphNeeds extends Component {
    static template = xml`<svg t-ref="svg" class="o_igr_needs position-absolute top-0 start-0 pe-none" aria-hidden="true"/>`;
    static props = { edges: Array };

    setup() {
        this.svg = useRef("svg");
        onMounted(() => this.draw());
        onPatched(() => this.draw());
    }

    draw() {
        const svg = this.svg.el;
        const box = svg.parentElement;
        const origin = box.getBoundingClientRect();
        svg.setAttribute("width", box.scrollWidth);
        svg.setAttribute("height", box.scrollHeight);
        const point = (card, side) => {
            const rect = card.getBoundingClientRect();
            const x = (side === "right" ? rect.right : rect.left) - origin.left + box.scrollLeft;
            return [x, rect.top + rect.height / 2 - origin.top + box.scrollTop];
        };
        const paths = [];
        for (const edge of this.props.edges) {
            const from = box.querySelector(`.o_igr_job[data-job-id="${edge.from}"]`);
            const to = box.querySelector(`.o_igr_job[data-job-id="${edge.to}"]`);
            if (!from || !to) {
                continue;
            }
            const [x1, y1] = point(from, "right");
            const [x2, y2] = point(to, "left");
            const path = document.createElementNS(SVG, "path");
            path.setAttribute("d", `M ${x1} ${y1} C ${x1 + 24} ${y1}, ${x2 - 24} ${y2}, ${x2} ${y2}`);
            path.setAttribute("class", "o_igr_need");
            path.dataset.from = edge.from;
            path.dataset.to = edge.to;
            paths.push(path);
        }
        svg.replaceChildren(...paths);
    }
}
