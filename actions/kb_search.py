from lib.aisre_st2 import AisreAction


class KbSearch(AisreAction):
    def run(self, query, k=5):
        return self.respond(self.chatops.kb_search, query, k)
