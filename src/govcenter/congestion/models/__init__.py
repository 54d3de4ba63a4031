from .cases import Case, CaseSequence, CaseUnit, UnitRole
from .suggestions import Channel, Satisfaction, Suggestion, SuggestionState, Topic

__all__ = [
    "Case",
    "CaseSequence",
    "CaseUnit",
    "Channel",
    "Satisfaction",
    "Suggestion",
    "SuggestionState",
    "Topic",
    "UnitRole",
]
