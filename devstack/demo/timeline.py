"""What the demo did and saw, in order: printed as it goes and again at the end."""

import time


class DemoFailure(Exception):
    """A step that could not be verified; the message says what was expected and found."""


class Timeline:
    def __init__(self):
        self.started = time.monotonic()
        self.rows = []

    def step(self, actor, text):
        row = (time.monotonic() - self.started, actor, text)
        self.rows.append(row)
        print(f"[demo] {row[0]:7.1f}s  {actor:<16} {text}", flush=True)

    def check(self, condition, text, found=None):
        if not condition:
            raise DemoFailure(f"{text}: not verified{f' (found {found})' if found is not None else ''}")
        self.step("verified", text)

    def print(self, ok):
        print("\nTimeline")
        for seconds, actor, text in self.rows:
            print(f"  {seconds:7.1f}s  {actor:<16} {text}")
        print(f"\n{'DEMO PASSED' if ok else 'DEMO FAILED'} in {time.monotonic() - self.started:.0f} s")
