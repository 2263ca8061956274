"""Planning and execution: IR -> a list of ready-to-call steps over one memory arena."""
