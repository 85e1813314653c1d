// The viewer's notifications, kept in the cache as they come: a room's
// last message and unread count, new rooms, friend requests.
import { useSubscription } from "@apollo/client/react";
import { graphql } from "../gql";
import { addRoom, dropRoom } from "./cacheEdits";

const NotificationsSub = graphql(`
  subscription Notifications {
    notifications {
      kind
      totalUnread
      room { ...RoomRow }
      actor { ...UserAvatar friendship }
    }
  }
`);

export function Live() {
  useSubscription(NotificationsSub, {
    onData: ({ client, data }) => {
      const n = data.data?.notifications;
      if (!n) return;
      const cache = client.cache;
      switch (n.kind) {
        case "NEW_MESSAGE":
        case "ROOM_ADDED":
          if (n.room) addRoom(cache, n.room);
          break;
        case "ROOM_REMOVED":
          if (n.room) dropRoom(cache, n.room.id);
          break;
        case "FRIEND_REQUEST":
        case "FRIEND_ACCEPTED":
          void client.refetchQueries({ include: ["FriendsScreen"] });
          break;
      }
    },
  });
  return null;
}
