"""Payment providers behind one port (:mod:`.port`); the embedded sandbox is :mod:`.sandbox`."""
