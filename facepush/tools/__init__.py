"""Tools around the protocol: the simulator, the fleet load generator and the demo."""
