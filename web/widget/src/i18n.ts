// The widget's words, in Korean and English. The language comes from the
// mount option, else the host page's <html lang>, else the browser's.

export type Lang = 'ko' | 'en';

export interface Strings {
  /** The badge's accessible name. */
  unread: (n: number) => string;
  connecting: string;
  unavailable: string;
  reconnecting: string;
  notifications: string;
  dismiss: string;
  newMessage: (who: string, room: string | null) => string;
  image: string;
  file: (name: string) => string;
  friendRequest: (who: string) => string;
  friendAccepted: (who: string) => string;
  roomAdded: (who: string, room: string) => string;
  directStarted: (who: string) => string;
  roomRemoved: (room: string) => string;
  someone: string;
}

const ko: Strings = {
  unread: (n) => (n === 0 ? '읽지 않은 메시지 없음' : `읽지 않은 메시지 ${n}개`),
  connecting: '알림에 연결하는 중',
  unavailable: '알림을 불러올 수 없어요',
  reconnecting: '다시 연결하는 중',
  notifications: '채팅 알림',
  dismiss: '닫기',
  newMessage: (who, room) => (room ? `${room}: ${who}님의 새 메시지` : `${who}님의 새 메시지`),
  image: '사진',
  file: (name) => `파일: ${name}`,
  friendRequest: (who) => `${who}님이 친구 요청을 보냈어요`,
  friendAccepted: (who) => `${who}님이 친구 요청을 수락했어요`,
  roomAdded: (who, room) => `${who}님이 ${room}에 초대했어요`,
  directStarted: (who) => `${who}님이 대화를 시작했어요`,
  roomRemoved: (room) => `${room}에서 내보내졌어요`,
  someone: '누군가',
};

const en: Strings = {
  unread: (n) => (n === 0 ? 'No unread messages' : n === 1 ? '1 unread message' : `${n} unread messages`),
  connecting: 'Connecting to notifications',
  unavailable: 'Notifications unavailable',
  reconnecting: 'Reconnecting',
  notifications: 'Chat notifications',
  dismiss: 'Dismiss',
  newMessage: (who, room) => (room ? `${room}: new message from ${who}` : `New message from ${who}`),
  image: 'Photo',
  file: (name) => `File: ${name}`,
  friendRequest: (who) => `${who} sent you a friend request`,
  friendAccepted: (who) => `${who} accepted your friend request`,
  roomAdded: (who, room) => `${who} added you to ${room}`,
  directStarted: (who) => `${who} started a chat with you`,
  roomRemoved: (room) => `You were removed from ${room}`,
  someone: 'Someone',
};

export function pickLang(asked?: string): Lang {
  const candidates = [asked, document.documentElement.lang, ...(navigator.languages || []), navigator.language];
  for (const c of candidates) {
    const l = (c || '').toLowerCase();
    if (l.startsWith('ko')) return 'ko';
    if (l.startsWith('en')) return 'en';
  }
  return 'en';
}

export const strings = (lang: Lang): Strings => (lang === 'ko' ? ko : en);
