"""An OCPP 2.0.1 / 2.1 central system (CSMS) for vehicle-to-grid fleets."""
