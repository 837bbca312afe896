import { onMounted, onWillUnmount } from "@odoo/owl";
import { deserializeDateTime, formatDateTime } from "@web/core/l10n/dates";
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
    not_reached: "text-bg-light",
    skipped: "text-bg-light",
};

// An icon per state, so a state reads at a glance and its badge never needs truncating.
const STATE_ICON = {
    succeeded: "fa-check",
    passed: "fa-check",
    approved: "fa-check",
    deployed: "fa-check",
    unchanged: "fa-check",
    same: "fa-check",
    failed: "fa-times",
    rejected: "fa-times",
    error: "fa-times",
    drift: "fa-exclamation-triangle",
    unknown: "fa-question-circle",
    running: "fa-cog",
    starting: "fa-cog",
    queued: "fa-clock-o",
    waiting: "fa-hourglass-half",
    waiting_approval: "fa-hourglass-half",
    waiting_checklist: "fa-hourglass-half",
    waiting_window: "fa-hourglass-half",
    pending: "fa-circle-o",
    not_reached: "fa-ban",
    skipped: "fa-ban",
    cancelled: "fa-stop-circle",
    void: "fa-ban",
};

export function stateIcon(state) {
    return STATE_ICON[state] || "fa-circle";
}

/** "waiting for approval" for waiting_approval: a state's key as words. */
export function stateLabel(state) {
    return (state || "").replace("waiting_", "waiting for ").replaceAll("_", " ");
}

/** A UTC datetime of the server ("2026-12-01 10:00:00") in the user's timezone and format. */
export function localTime(utc) {
    return utc ? formatDateTime(deserializeDateTime(utc)) : "";
}

export function stateClass(state) {
    return STATE_CLASS[state] || "text-bg-secondary";
}
