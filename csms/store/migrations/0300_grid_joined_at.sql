-- An EV plugged in while an event runs joins it: when it joined (NULL: from the event's start),
-- so that its share of a settlement baseline counts only from then.
ALTER TABLE grid_event_evs ADD COLUMN joined_at timestamptz;
