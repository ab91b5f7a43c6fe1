"""The champion: candidates as the registry knows them, the typed registry record, finalizing the
report's winner, registering and placing versions (champion / challenger / previous), rollback, history."""
from pipeline.champion.candidate import Candidate, config_key, raw_examples
from pipeline.champion.finalize import Finalized, Verdict, finalize
from pipeline.champion.record import ChampionRecord
from pipeline.champion.registry import RETUNE_ROLE, current_champion, history, record_decision, register, rollback

__all__ = ["RETUNE_ROLE", "Candidate", "ChampionRecord", "Finalized", "Verdict", "config_key", "current_champion",
           "finalize", "history", "raw_examples", "record_decision", "register", "rollback"]
