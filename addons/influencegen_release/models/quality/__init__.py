from . import release_finding
from . import release_gate_result
from . import release_gate_result_findings
from . import release_waiver
