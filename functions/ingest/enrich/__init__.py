"""Pure, cached derivations of analyst columns: device, page path and traffic origin."""
