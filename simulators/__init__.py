"""Charge-point simulators: bidirectional DC stations that follow the profiles they are sent."""
