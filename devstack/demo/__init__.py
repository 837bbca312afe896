"""The self-delivery demo (``scripts/demo``): ``stack`` starts the servers, ``story`` tells
the release and checks each step, ``timeline`` records what happened."""
