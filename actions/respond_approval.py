from lib.aisre_st2 import AisreAction


class RespondApproval(AisreAction):
    def run(self, ref, approved, comment="", user="chatops"):
        return self.respond(self.chatops.respond_approval, ref, approved, user, comment)
