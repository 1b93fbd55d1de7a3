from .vocabulary import PriorVocabulary

__all__ = ["PriorVocabulary"]
