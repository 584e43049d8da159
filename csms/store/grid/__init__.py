"""Grid-event storage: programs, station groups and events (:mod:`csms.store.grid.events`);
the fleet readings, driver settings, event EVs and control steps (:mod:`csms.store.grid.fleet`).
"""
