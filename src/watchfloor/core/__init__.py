"""The domain of watchfloor: values, rules and ports, with no I/O.

Vocabulary (no synonyms anywhere in the code):

- **Signal**: one message from one source, exactly as received (a DC-09 event, a camera alert,
  a staff report, a call). Immutable; kept with its raw text.
- **Alarm**: the operator-facing case built from one or more Signals by correlation.
- **Alarm type**: an entry of the taxonomy (code, name, category, priority, basis, SOP).
- **Origin**: where an Alarm comes from: equipment, patrol (staff on duty) or call.
- **Site**, **Device** (a DC-09 account, a camera, an NVR), **Account** (a DC-09 transmitter's
  identity), **Zone**, **Partition**, **Operator**, **Unit** (a responder that can be dispatched).
- **Overdue**: an Alarm nobody acknowledged by its deadline. **Escalation** tells the next
  **level** of the taxonomy's escalation **ladder** (supervisor, duty manager ...) of an overdue
  Alarm, each level once; it never changes the Alarm's priority.
"""
