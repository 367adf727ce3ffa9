"""The setup wizard (FEATURES F2, F3): Select object -> Configure -> Limit -> Review.

Its state lives on a draft ObjectSync row keyed by its primary key (STYLE rule 7): every URL
carries the pk, so two tabs on two drafts never collide, a reload loses nothing and Back works.
Each view reads what it needs from the apps first (reading.AppData), outside any transaction,
then writes in short statements.
"""
