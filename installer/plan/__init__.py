"""The plan: the one YAML file that describes the whole cluster.

``load``: the bounded YAML loader every plan is read with. ``model``: the typed ``Plan``, read
from YAML with each value's line, its shape checked. ``derive``: what the plan implies (ports,
members, datasources, hosts lines, the settings for every file). ``check``: the rules across
fields, run before anything changes. ``draft``: the wizard's editable plan, as typed.

Nothing is imported here: the wizard's first screen needs only ``draft`` (and so ``load``), not
derivation or checking.
"""
