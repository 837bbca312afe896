import { onMounted, onWillUnmount } from "@odoo/owl";
import { useService } from "@web/core/utils/hooks";

// Sent by release.run._notify_ui when a run or one of its jobs changes (ids only: the views
// read what they show through the ORM, with the user's rights).
export const RUN_CHANGED = "influencegen_release/run_changed";

/** Calls `callback({run_ids, job_ids})` for every run change the bus reports while mounted. */
export function useRunChanges(callback) {
    const bus = useService("bus_service");
    onMounted(() => {
        bus.subscribe(RUN_CHANGED, callback);
        bus.start();
    });
    onWillUnmount(() => bus.unsubscribe(RUN_CHANGED, callback));
}

/** Keeps only the answer of the latest call of `load`: older answers arriving late are dropped. */
export function latestOnly(load) {
    let sequence = 0;
    return async (...args) => {
        const mine = ++sequence;
        const result = await load(...args);
        return mine === sequence ? result : undefined;
    };
}

export function formatDuration(seconds) {
    if (!seconds) {
        return "";
    }
    if (seconds < 60) {
        return `${seconds.toFixed(1)} s`;
    }
    const minutes = Math.floor(seconds / 60);
    return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
}

// Bootstrap badge colours of run, job, gate, approval and deployment states.
const STATE_CLASS = {
    succeeded: "text-bg-success",
    passed: "text-bg-success",
    approved: "text-bg-success",
    deployed: "text-bg-success",
    unchanged: "text-bg-success",
    same: "text-bg-success",
    failed: "text-bg-danger",
    rejected: "text-bg-danger",
    error: "text-bg-danger",
    drift: "text-bg-danger",
    running: "text-bg-info",
    starting: "text-bg-info",
    queued: "text-bg-primary",
    waiting: "text-bg-warning",
    waiting_approval: "text-bg-warning",
    waiting_checklist: "text-bg-warning",
    waiting_window: "text-bg-warning",
    pending: "text-bg-light",
};

export function stateClass(state) {
    return STATE_CLASS[state] || "text-bg-secondary";
}
