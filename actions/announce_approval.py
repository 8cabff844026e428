from lib.aisre_st2 import AisreAction


class AnnounceApproval(AisreAction):
    def run(self, inquiry_id, route=""):
        return self.respond(self.runtime.announce_approval, inquiry_id, route)
