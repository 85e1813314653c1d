/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  fragment UserAvatar on User {\n    id\n    nickname\n    avatarURL\n    online\n  }\n": typeof types.UserAvatarFragmentDoc,
    "\n  subscription Notifications {\n    notifications {\n      kind\n      totalUnread\n      room { ...RoomRow }\n      actor { ...UserAvatar friendship }\n    }\n  }\n": typeof types.NotificationsDocument,
    "\n  query FriendsToPick {\n    friends(first: 100) { edges { node { ...UserAvatar } } }\n  }\n": typeof types.FriendsToPickDocument,
    "\n  fragment MessageItem on Message {\n    id\n    kind\n    body\n    seq\n    createdAt\n    editedAt\n    deletedAt\n    clientId\n    sender { ...UserAvatar }\n    attachment { id filename contentType size width height url thumbnailURL }\n    replyTo { id kind body deletedAt sender { id nickname } attachment { id filename } }\n    reactions { emoji count viewerReacted }\n  }\n": typeof types.MessageItemFragmentDoc,
    "\n  mutation EditMessage($id: ID!, $body: String!) {\n    editMessage(messageId: $id, body: $body) { ...MessageItem }\n  }\n": typeof types.EditMessageDocument,
    "\n  mutation DeleteMessage($id: ID!) {\n    deleteMessage(messageId: $id) { ...MessageItem }\n  }\n": typeof types.DeleteMessageDocument,
    "\n  mutation AddReaction($id: ID!, $emoji: String!) {\n    addReaction(messageId: $id, emoji: $emoji) { id reactions { emoji count viewerReacted } }\n  }\n": typeof types.AddReactionDocument,
    "\n  mutation RemoveReaction($id: ID!, $emoji: String!) {\n    removeReaction(messageId: $id, emoji: $emoji) { id reactions { emoji count viewerReacted } }\n  }\n": typeof types.RemoveReactionDocument,
    "\n  query Nav {\n    rooms(first: 50) {\n      edges { node { id unreadCount } }\n    }\n  }\n": typeof types.NavDocument,
    "\n  fragment RoomRow on Room {\n    id\n    kind\n    name\n    updatedAt\n    unreadCount\n    members { ...UserAvatar }\n    lastMessage {\n      id\n      kind\n      body\n      createdAt\n      deletedAt\n      sender { id nickname }\n      attachment { id filename }\n    }\n  }\n": typeof types.RoomRowFragmentDoc,
    "\n  fragment RoomLastMessage on Room {\n    id\n    lastMessage { id kind body createdAt deletedAt sender { id nickname } attachment { id filename } }\n  }\n": typeof types.RoomLastMessageFragmentDoc,
    "\n  query ChatScreen($id: ID!, $last: Int!, $before: Cursor) {\n    viewer { id nickname avatarURL online }\n    room(id: $id) {\n      id\n      kind\n      name\n      viewerRole\n      eventsCursor\n      unreadCount\n      members { ...UserAvatar }\n      readReceipts { user { id } lastRead { id seq } }\n      messages(last: $last, before: $before) {\n        edges { cursor node { ...MessageItem } }\n        pageInfo { hasPreviousPage startCursor }\n      }\n    }\n  }\n": typeof types.ChatScreenDocument,
    "\n  subscription RoomEvents($roomId: ID!, $after: Cursor) {\n    roomEvents(roomId: $roomId, after: $after) {\n      __typename\n      ... on MessageEvent { kind cursor message { ...MessageItem } }\n      ... on TypingEvent { typing user { id nickname } }\n      ... on ReadEvent { receipt { user { id } lastRead { id seq } } }\n      ... on RoomChangedEvent { room { id name viewerRole members { ...UserAvatar } } }\n    }\n  }\n": typeof types.RoomEventsDocument,
    "\n  mutation SendMessage($input: SendMessageInput!) {\n    sendMessage(input: $input) { ...MessageItem }\n  }\n": typeof types.SendMessageDocument,
    "\n  mutation SendFile($input: SendFileInput!) {\n    sendFile(input: $input) { ...MessageItem }\n  }\n": typeof types.SendFileDocument,
    "\n  mutation MarkRoomRead($roomId: ID!) {\n    markRoomRead(roomId: $roomId) { id unreadCount }\n  }\n": typeof types.MarkRoomReadDocument,
    "\n  mutation SetTyping($roomId: ID!, $typing: Boolean!) {\n    setTyping(roomId: $roomId, typing: $typing)\n  }\n": typeof types.SetTypingDocument,
    "\n  mutation LeaveRoom($roomId: ID!) {\n    leaveRoom(roomId: $roomId)\n  }\n": typeof types.LeaveRoomDocument,
    "\n  mutation AddRoomMembers($roomId: ID!, $userIds: [ID!]!) {\n    addRoomMembers(roomId: $roomId, userIds: $userIds) { id name members { ...UserAvatar } }\n  }\n": typeof types.AddRoomMembersDocument,
    "fragment ReadSeq on Message { id seq }": typeof types.ReadSeqFragmentDoc,
    "\n  query FriendsScreen {\n    friendRequests(first: 50) { edges { node { ...UserAvatar friendship } } }\n    friends(first: 100) { edges { node { ...UserAvatar friendship bio } } }\n  }\n": typeof types.FriendsScreenDocument,
    "\n  query SearchUsers($query: String!) {\n    searchUsers(query: $query, first: 20) { edges { node { ...UserAvatar friendship } } }\n  }\n": typeof types.SearchUsersDocument,
    "mutation AddFriend($id: ID!) { addFriend(userId: $id) { id friendship } }": typeof types.AddFriendDocument,
    "mutation DeclineFriend($id: ID!) { declineFriendRequest(userId: $id) { id friendship } }": typeof types.DeclineFriendDocument,
    "mutation RemoveFriend($id: ID!) { removeFriend(userId: $id) { id friendship } }": typeof types.RemoveFriendDocument,
    "\n  mutation StartDirect($id: ID!) {\n    createRoom(input: { memberIds: [$id] }) { ...RoomRow }\n  }\n": typeof types.StartDirectDocument,
    "\n  mutation CompleteOAuth($provider: AuthProvider!, $code: String!, $state: String!) {\n    completeOAuth(provider: $provider, code: $code, state: $state) { ...AuthPayloadFields }\n  }\n": typeof types.CompleteOAuthDocument,
    "\n  query ProfileScreen {\n    viewer { ...UserAvatar email bio }\n  }\n": typeof types.ProfileScreenDocument,
    "\n  mutation UpdateProfile($input: UpdateProfileInput!) {\n    updateProfile(input: $input) { ...UserAvatar bio }\n  }\n": typeof types.UpdateProfileDocument,
    "\n  mutation UploadAvatar($file: Upload!) {\n    uploadAvatar(file: $file) { id avatarURL }\n  }\n": typeof types.UploadAvatarDocument,
    "mutation SignOut($t: String!) { signOut(refreshToken: $t) }": typeof types.SignOutDocument,
    "mutation DeleteAccount($password: String) { deleteAccount(password: $password) }": typeof types.DeleteAccountDocument,
    "\n  query RoomsScreen($after: Cursor) {\n    viewer { id }\n    rooms(first: 50, after: $after) {\n      edges { node { ...RoomRow } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n": typeof types.RoomsScreenDocument,
    "\n  mutation CreateGroup($input: CreateRoomInput!) {\n    createRoom(input: $input) { ...RoomRow }\n  }\n": typeof types.CreateGroupDocument,
    "\n  fragment AuthPayloadFields on AuthPayload {\n    accessToken\n    accessTokenExpiresAt\n    refreshToken\n    user { id }\n  }\n": typeof types.AuthPayloadFieldsFragmentDoc,
    "\n  query AuthProviders {\n    authProviders\n  }\n": typeof types.AuthProvidersDocument,
    "\n  mutation SignIn($input: SignInInput!) {\n    signIn(input: $input) { ...AuthPayloadFields }\n  }\n": typeof types.SignInDocument,
    "\n  mutation StartOAuth($provider: AuthProvider!, $redirectURI: String!) {\n    startOAuth(provider: $provider, redirectURI: $redirectURI) { authorizationURL state }\n  }\n": typeof types.StartOAuthDocument,
    "\n  mutation SignUp($input: SignUpInput!) {\n    signUp(input: $input) { ...AuthPayloadFields }\n  }\n": typeof types.SignUpDocument,
};
const documents: Documents = {
    "\n  fragment UserAvatar on User {\n    id\n    nickname\n    avatarURL\n    online\n  }\n": types.UserAvatarFragmentDoc,
    "\n  subscription Notifications {\n    notifications {\n      kind\n      totalUnread\n      room { ...RoomRow }\n      actor { ...UserAvatar friendship }\n    }\n  }\n": types.NotificationsDocument,
    "\n  query FriendsToPick {\n    friends(first: 100) { edges { node { ...UserAvatar } } }\n  }\n": types.FriendsToPickDocument,
    "\n  fragment MessageItem on Message {\n    id\n    kind\n    body\n    seq\n    createdAt\n    editedAt\n    deletedAt\n    clientId\n    sender { ...UserAvatar }\n    attachment { id filename contentType size width height url thumbnailURL }\n    replyTo { id kind body deletedAt sender { id nickname } attachment { id filename } }\n    reactions { emoji count viewerReacted }\n  }\n": types.MessageItemFragmentDoc,
    "\n  mutation EditMessage($id: ID!, $body: String!) {\n    editMessage(messageId: $id, body: $body) { ...MessageItem }\n  }\n": types.EditMessageDocument,
    "\n  mutation DeleteMessage($id: ID!) {\n    deleteMessage(messageId: $id) { ...MessageItem }\n  }\n": types.DeleteMessageDocument,
    "\n  mutation AddReaction($id: ID!, $emoji: String!) {\n    addReaction(messageId: $id, emoji: $emoji) { id reactions { emoji count viewerReacted } }\n  }\n": types.AddReactionDocument,
    "\n  mutation RemoveReaction($id: ID!, $emoji: String!) {\n    removeReaction(messageId: $id, emoji: $emoji) { id reactions { emoji count viewerReacted } }\n  }\n": types.RemoveReactionDocument,
    "\n  query Nav {\n    rooms(first: 50) {\n      edges { node { id unreadCount } }\n    }\n  }\n": types.NavDocument,
    "\n  fragment RoomRow on Room {\n    id\n    kind\n    name\n    updatedAt\n    unreadCount\n    members { ...UserAvatar }\n    lastMessage {\n      id\n      kind\n      body\n      createdAt\n      deletedAt\n      sender { id nickname }\n      attachment { id filename }\n    }\n  }\n": types.RoomRowFragmentDoc,
    "\n  fragment RoomLastMessage on Room {\n    id\n    lastMessage { id kind body createdAt deletedAt sender { id nickname } attachment { id filename } }\n  }\n": types.RoomLastMessageFragmentDoc,
    "\n  query ChatScreen($id: ID!, $last: Int!, $before: Cursor) {\n    viewer { id nickname avatarURL online }\n    room(id: $id) {\n      id\n      kind\n      name\n      viewerRole\n      eventsCursor\n      unreadCount\n      members { ...UserAvatar }\n      readReceipts { user { id } lastRead { id seq } }\n      messages(last: $last, before: $before) {\n        edges { cursor node { ...MessageItem } }\n        pageInfo { hasPreviousPage startCursor }\n      }\n    }\n  }\n": types.ChatScreenDocument,
    "\n  subscription RoomEvents($roomId: ID!, $after: Cursor) {\n    roomEvents(roomId: $roomId, after: $after) {\n      __typename\n      ... on MessageEvent { kind cursor message { ...MessageItem } }\n      ... on TypingEvent { typing user { id nickname } }\n      ... on ReadEvent { receipt { user { id } lastRead { id seq } } }\n      ... on RoomChangedEvent { room { id name viewerRole members { ...UserAvatar } } }\n    }\n  }\n": types.RoomEventsDocument,
    "\n  mutation SendMessage($input: SendMessageInput!) {\n    sendMessage(input: $input) { ...MessageItem }\n  }\n": types.SendMessageDocument,
    "\n  mutation SendFile($input: SendFileInput!) {\n    sendFile(input: $input) { ...MessageItem }\n  }\n": types.SendFileDocument,
    "\n  mutation MarkRoomRead($roomId: ID!) {\n    markRoomRead(roomId: $roomId) { id unreadCount }\n  }\n": types.MarkRoomReadDocument,
    "\n  mutation SetTyping($roomId: ID!, $typing: Boolean!) {\n    setTyping(roomId: $roomId, typing: $typing)\n  }\n": types.SetTypingDocument,
    "\n  mutation LeaveRoom($roomId: ID!) {\n    leaveRoom(roomId: $roomId)\n  }\n": types.LeaveRoomDocument,
    "\n  mutation AddRoomMembers($roomId: ID!, $userIds: [ID!]!) {\n    addRoomMembers(roomId: $roomId, userIds: $userIds) { id name members { ...UserAvatar } }\n  }\n": types.AddRoomMembersDocument,
    "fragment ReadSeq on Message { id seq }": types.ReadSeqFragmentDoc,
    "\n  query FriendsScreen {\n    friendRequests(first: 50) { edges { node { ...UserAvatar friendship } } }\n    friends(first: 100) { edges { node { ...UserAvatar friendship bio } } }\n  }\n": types.FriendsScreenDocument,
    "\n  query SearchUsers($query: String!) {\n    searchUsers(query: $query, first: 20) { edges { node { ...UserAvatar friendship } } }\n  }\n": types.SearchUsersDocument,
    "mutation AddFriend($id: ID!) { addFriend(userId: $id) { id friendship } }": types.AddFriendDocument,
    "mutation DeclineFriend($id: ID!) { declineFriendRequest(userId: $id) { id friendship } }": types.DeclineFriendDocument,
    "mutation RemoveFriend($id: ID!) { removeFriend(userId: $id) { id friendship } }": types.RemoveFriendDocument,
    "\n  mutation StartDirect($id: ID!) {\n    createRoom(input: { memberIds: [$id] }) { ...RoomRow }\n  }\n": types.StartDirectDocument,
    "\n  mutation CompleteOAuth($provider: AuthProvider!, $code: String!, $state: String!) {\n    completeOAuth(provider: $provider, code: $code, state: $state) { ...AuthPayloadFields }\n  }\n": types.CompleteOAuthDocument,
    "\n  query ProfileScreen {\n    viewer { ...UserAvatar email bio }\n  }\n": types.ProfileScreenDocument,
    "\n  mutation UpdateProfile($input: UpdateProfileInput!) {\n    updateProfile(input: $input) { ...UserAvatar bio }\n  }\n": types.UpdateProfileDocument,
    "\n  mutation UploadAvatar($file: Upload!) {\n    uploadAvatar(file: $file) { id avatarURL }\n  }\n": types.UploadAvatarDocument,
    "mutation SignOut($t: String!) { signOut(refreshToken: $t) }": types.SignOutDocument,
    "mutation DeleteAccount($password: String) { deleteAccount(password: $password) }": types.DeleteAccountDocument,
    "\n  query RoomsScreen($after: Cursor) {\n    viewer { id }\n    rooms(first: 50, after: $after) {\n      edges { node { ...RoomRow } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n": types.RoomsScreenDocument,
    "\n  mutation CreateGroup($input: CreateRoomInput!) {\n    createRoom(input: $input) { ...RoomRow }\n  }\n": types.CreateGroupDocument,
    "\n  fragment AuthPayloadFields on AuthPayload {\n    accessToken\n    accessTokenExpiresAt\n    refreshToken\n    user { id }\n  }\n": types.AuthPayloadFieldsFragmentDoc,
    "\n  query AuthProviders {\n    authProviders\n  }\n": types.AuthProvidersDocument,
    "\n  mutation SignIn($input: SignInInput!) {\n    signIn(input: $input) { ...AuthPayloadFields }\n  }\n": types.SignInDocument,
    "\n  mutation StartOAuth($provider: AuthProvider!, $redirectURI: String!) {\n    startOAuth(provider: $provider, redirectURI: $redirectURI) { authorizationURL state }\n  }\n": types.StartOAuthDocument,
    "\n  mutation SignUp($input: SignUpInput!) {\n    signUp(input: $input) { ...AuthPayloadFields }\n  }\n": types.SignUpDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment UserAvatar on User {\n    id\n    nickname\n    avatarURL\n    online\n  }\n"): (typeof documents)["\n  fragment UserAvatar on User {\n    id\n    nickname\n    avatarURL\n    online\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription Notifications {\n    notifications {\n      kind\n      totalUnread\n      room { ...RoomRow }\n      actor { ...UserAvatar friendship }\n    }\n  }\n"): (typeof documents)["\n  subscription Notifications {\n    notifications {\n      kind\n      totalUnread\n      room { ...RoomRow }\n      actor { ...UserAvatar friendship }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query FriendsToPick {\n    friends(first: 100) { edges { node { ...UserAvatar } } }\n  }\n"): (typeof documents)["\n  query FriendsToPick {\n    friends(first: 100) { edges { node { ...UserAvatar } } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment MessageItem on Message {\n    id\n    kind\n    body\n    seq\n    createdAt\n    editedAt\n    deletedAt\n    clientId\n    sender { ...UserAvatar }\n    attachment { id filename contentType size width height url thumbnailURL }\n    replyTo { id kind body deletedAt sender { id nickname } attachment { id filename } }\n    reactions { emoji count viewerReacted }\n  }\n"): (typeof documents)["\n  fragment MessageItem on Message {\n    id\n    kind\n    body\n    seq\n    createdAt\n    editedAt\n    deletedAt\n    clientId\n    sender { ...UserAvatar }\n    attachment { id filename contentType size width height url thumbnailURL }\n    replyTo { id kind body deletedAt sender { id nickname } attachment { id filename } }\n    reactions { emoji count viewerReacted }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation EditMessage($id: ID!, $body: String!) {\n    editMessage(messageId: $id, body: $body) { ...MessageItem }\n  }\n"): (typeof documents)["\n  mutation EditMessage($id: ID!, $body: String!) {\n    editMessage(messageId: $id, body: $body) { ...MessageItem }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DeleteMessage($id: ID!) {\n    deleteMessage(messageId: $id) { ...MessageItem }\n  }\n"): (typeof documents)["\n  mutation DeleteMessage($id: ID!) {\n    deleteMessage(messageId: $id) { ...MessageItem }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation AddReaction($id: ID!, $emoji: String!) {\n    addReaction(messageId: $id, emoji: $emoji) { id reactions { emoji count viewerReacted } }\n  }\n"): (typeof documents)["\n  mutation AddReaction($id: ID!, $emoji: String!) {\n    addReaction(messageId: $id, emoji: $emoji) { id reactions { emoji count viewerReacted } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RemoveReaction($id: ID!, $emoji: String!) {\n    removeReaction(messageId: $id, emoji: $emoji) { id reactions { emoji count viewerReacted } }\n  }\n"): (typeof documents)["\n  mutation RemoveReaction($id: ID!, $emoji: String!) {\n    removeReaction(messageId: $id, emoji: $emoji) { id reactions { emoji count viewerReacted } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Nav {\n    rooms(first: 50) {\n      edges { node { id unreadCount } }\n    }\n  }\n"): (typeof documents)["\n  query Nav {\n    rooms(first: 50) {\n      edges { node { id unreadCount } }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment RoomRow on Room {\n    id\n    kind\n    name\n    updatedAt\n    unreadCount\n    members { ...UserAvatar }\n    lastMessage {\n      id\n      kind\n      body\n      createdAt\n      deletedAt\n      sender { id nickname }\n      attachment { id filename }\n    }\n  }\n"): (typeof documents)["\n  fragment RoomRow on Room {\n    id\n    kind\n    name\n    updatedAt\n    unreadCount\n    members { ...UserAvatar }\n    lastMessage {\n      id\n      kind\n      body\n      createdAt\n      deletedAt\n      sender { id nickname }\n      attachment { id filename }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment RoomLastMessage on Room {\n    id\n    lastMessage { id kind body createdAt deletedAt sender { id nickname } attachment { id filename } }\n  }\n"): (typeof documents)["\n  fragment RoomLastMessage on Room {\n    id\n    lastMessage { id kind body createdAt deletedAt sender { id nickname } attachment { id filename } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ChatScreen($id: ID!, $last: Int!, $before: Cursor) {\n    viewer { id nickname avatarURL online }\n    room(id: $id) {\n      id\n      kind\n      name\n      viewerRole\n      eventsCursor\n      unreadCount\n      members { ...UserAvatar }\n      readReceipts { user { id } lastRead { id seq } }\n      messages(last: $last, before: $before) {\n        edges { cursor node { ...MessageItem } }\n        pageInfo { hasPreviousPage startCursor }\n      }\n    }\n  }\n"): (typeof documents)["\n  query ChatScreen($id: ID!, $last: Int!, $before: Cursor) {\n    viewer { id nickname avatarURL online }\n    room(id: $id) {\n      id\n      kind\n      name\n      viewerRole\n      eventsCursor\n      unreadCount\n      members { ...UserAvatar }\n      readReceipts { user { id } lastRead { id seq } }\n      messages(last: $last, before: $before) {\n        edges { cursor node { ...MessageItem } }\n        pageInfo { hasPreviousPage startCursor }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription RoomEvents($roomId: ID!, $after: Cursor) {\n    roomEvents(roomId: $roomId, after: $after) {\n      __typename\n      ... on MessageEvent { kind cursor message { ...MessageItem } }\n      ... on TypingEvent { typing user { id nickname } }\n      ... on ReadEvent { receipt { user { id } lastRead { id seq } } }\n      ... on RoomChangedEvent { room { id name viewerRole members { ...UserAvatar } } }\n    }\n  }\n"): (typeof documents)["\n  subscription RoomEvents($roomId: ID!, $after: Cursor) {\n    roomEvents(roomId: $roomId, after: $after) {\n      __typename\n      ... on MessageEvent { kind cursor message { ...MessageItem } }\n      ... on TypingEvent { typing user { id nickname } }\n      ... on ReadEvent { receipt { user { id } lastRead { id seq } } }\n      ... on RoomChangedEvent { room { id name viewerRole members { ...UserAvatar } } }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SendMessage($input: SendMessageInput!) {\n    sendMessage(input: $input) { ...MessageItem }\n  }\n"): (typeof documents)["\n  mutation SendMessage($input: SendMessageInput!) {\n    sendMessage(input: $input) { ...MessageItem }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SendFile($input: SendFileInput!) {\n    sendFile(input: $input) { ...MessageItem }\n  }\n"): (typeof documents)["\n  mutation SendFile($input: SendFileInput!) {\n    sendFile(input: $input) { ...MessageItem }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation MarkRoomRead($roomId: ID!) {\n    markRoomRead(roomId: $roomId) { id unreadCount }\n  }\n"): (typeof documents)["\n  mutation MarkRoomRead($roomId: ID!) {\n    markRoomRead(roomId: $roomId) { id unreadCount }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SetTyping($roomId: ID!, $typing: Boolean!) {\n    setTyping(roomId: $roomId, typing: $typing)\n  }\n"): (typeof documents)["\n  mutation SetTyping($roomId: ID!, $typing: Boolean!) {\n    setTyping(roomId: $roomId, typing: $typing)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation LeaveRoom($roomId: ID!) {\n    leaveRoom(roomId: $roomId)\n  }\n"): (typeof documents)["\n  mutation LeaveRoom($roomId: ID!) {\n    leaveRoom(roomId: $roomId)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation AddRoomMembers($roomId: ID!, $userIds: [ID!]!) {\n    addRoomMembers(roomId: $roomId, userIds: $userIds) { id name members { ...UserAvatar } }\n  }\n"): (typeof documents)["\n  mutation AddRoomMembers($roomId: ID!, $userIds: [ID!]!) {\n    addRoomMembers(roomId: $roomId, userIds: $userIds) { id name members { ...UserAvatar } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment ReadSeq on Message { id seq }"): (typeof documents)["fragment ReadSeq on Message { id seq }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query FriendsScreen {\n    friendRequests(first: 50) { edges { node { ...UserAvatar friendship } } }\n    friends(first: 100) { edges { node { ...UserAvatar friendship bio } } }\n  }\n"): (typeof documents)["\n  query FriendsScreen {\n    friendRequests(first: 50) { edges { node { ...UserAvatar friendship } } }\n    friends(first: 100) { edges { node { ...UserAvatar friendship bio } } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query SearchUsers($query: String!) {\n    searchUsers(query: $query, first: 20) { edges { node { ...UserAvatar friendship } } }\n  }\n"): (typeof documents)["\n  query SearchUsers($query: String!) {\n    searchUsers(query: $query, first: 20) { edges { node { ...UserAvatar friendship } } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation AddFriend($id: ID!) { addFriend(userId: $id) { id friendship } }"): (typeof documents)["mutation AddFriend($id: ID!) { addFriend(userId: $id) { id friendship } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation DeclineFriend($id: ID!) { declineFriendRequest(userId: $id) { id friendship } }"): (typeof documents)["mutation DeclineFriend($id: ID!) { declineFriendRequest(userId: $id) { id friendship } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation RemoveFriend($id: ID!) { removeFriend(userId: $id) { id friendship } }"): (typeof documents)["mutation RemoveFriend($id: ID!) { removeFriend(userId: $id) { id friendship } }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation StartDirect($id: ID!) {\n    createRoom(input: { memberIds: [$id] }) { ...RoomRow }\n  }\n"): (typeof documents)["\n  mutation StartDirect($id: ID!) {\n    createRoom(input: { memberIds: [$id] }) { ...RoomRow }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CompleteOAuth($provider: AuthProvider!, $code: String!, $state: String!) {\n    completeOAuth(provider: $provider, code: $code, state: $state) { ...AuthPayloadFields }\n  }\n"): (typeof documents)["\n  mutation CompleteOAuth($provider: AuthProvider!, $code: String!, $state: String!) {\n    completeOAuth(provider: $provider, code: $code, state: $state) { ...AuthPayloadFields }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ProfileScreen {\n    viewer { ...UserAvatar email bio }\n  }\n"): (typeof documents)["\n  query ProfileScreen {\n    viewer { ...UserAvatar email bio }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation UpdateProfile($input: UpdateProfileInput!) {\n    updateProfile(input: $input) { ...UserAvatar bio }\n  }\n"): (typeof documents)["\n  mutation UpdateProfile($input: UpdateProfileInput!) {\n    updateProfile(input: $input) { ...UserAvatar bio }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation UploadAvatar($file: Upload!) {\n    uploadAvatar(file: $file) { id avatarURL }\n  }\n"): (typeof documents)["\n  mutation UploadAvatar($file: Upload!) {\n    uploadAvatar(file: $file) { id avatarURL }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation SignOut($t: String!) { signOut(refreshToken: $t) }"): (typeof documents)["mutation SignOut($t: String!) { signOut(refreshToken: $t) }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation DeleteAccount($password: String) { deleteAccount(password: $password) }"): (typeof documents)["mutation DeleteAccount($password: String) { deleteAccount(password: $password) }"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query RoomsScreen($after: Cursor) {\n    viewer { id }\n    rooms(first: 50, after: $after) {\n      edges { node { ...RoomRow } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n"): (typeof documents)["\n  query RoomsScreen($after: Cursor) {\n    viewer { id }\n    rooms(first: 50, after: $after) {\n      edges { node { ...RoomRow } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateGroup($input: CreateRoomInput!) {\n    createRoom(input: $input) { ...RoomRow }\n  }\n"): (typeof documents)["\n  mutation CreateGroup($input: CreateRoomInput!) {\n    createRoom(input: $input) { ...RoomRow }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment AuthPayloadFields on AuthPayload {\n    accessToken\n    accessTokenExpiresAt\n    refreshToken\n    user { id }\n  }\n"): (typeof documents)["\n  fragment AuthPayloadFields on AuthPayload {\n    accessToken\n    accessTokenExpiresAt\n    refreshToken\n    user { id }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query AuthProviders {\n    authProviders\n  }\n"): (typeof documents)["\n  query AuthProviders {\n    authProviders\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SignIn($input: SignInInput!) {\n    signIn(input: $input) { ...AuthPayloadFields }\n  }\n"): (typeof documents)["\n  mutation SignIn($input: SignInInput!) {\n    signIn(input: $input) { ...AuthPayloadFields }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation StartOAuth($provider: AuthProvider!, $redirectURI: String!) {\n    startOAuth(provider: $provider, redirectURI: $redirectURI) { authorizationURL state }\n  }\n"): (typeof documents)["\n  mutation StartOAuth($provider: AuthProvider!, $redirectURI: String!) {\n    startOAuth(provider: $provider, redirectURI: $redirectURI) { authorizationURL state }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SignUp($input: SignUpInput!) {\n    signUp(input: $input) { ...AuthPayloadFields }\n  }\n"): (typeof documents)["\n  mutation SignUp($input: SignUpInput!) {\n    signUp(input: $input) { ...AuthPayloadFields }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;